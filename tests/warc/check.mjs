#!/usr/bin/env node
// check.mjs - read .warc.gz files with an independent reader (warcio's
// WARCParser) and print what tests/integration/warc.sh asserts on, as JSON.
//
//   node check.mjs [--dump DIR] FILE.warc.gz...
//
// Exits 1, with the reason on stderr, when a file cannot be read as a
// gzip-compressed WARC with one record per gzip member: not gzip, a broken
// member, a member holding no record or more than one, a record whose length
// disagrees with its Content-Length, or anything warcio refuses.  Otherwise
// it exits 0 and prints:
//
//   {"files":   [{file, size, members, records}],
//    "records": [{file, index, member_offset, member_length, version, type,
//                 record_id, date, target_uri, ip, concurrent_to: [],
//                 protocol: [], truncated, content_type, content_length,
//                 block_digest, payload_digest (as the headers say),
//                 computed_block_digest, computed_payload_digest
//                   ("sha1:" + base32, computed here),
//                 block_sha256, body_sha256 (the message body as it is in
//                 the block: chunk framing kept), payload_sha256,
//                 payload_length, payload_complete, chunked,
//                 http: {first_line, version, method, target, status,
//                        reason, headers: [[name, value]...], interim: N}
//                 (null for a block that is not application/http),
//                 warcio_status, warcio_decoded_sha256 (warcio's own
//                 reading of the HTTP message, content coding removed;
//                 null when it could not decode; wrong for a chunked
//                 body with trailer fields, which warcio 2.4.11 feeds
//                 to the content decoder),
//                 fields: {lower-case name: [values]} (all WARC fields),
//                 problems: [text]}]}
//
// problems lists what is wrong with a record that the reader could still
// read: a digest in the headers that differs from the computed one, a
// WARC-Record-ID that is not <urn:uuid:...>, a repeated ID, a WARC-Date that
// is not RFC 3339 UTC, a non-repeatable field given twice, a
// WARC-Concurrent-To naming no record of the files, a missing mandatory
// field.  The test decides which fields it requires.
//
// The payload of an application/http block is the message body with the
// chunked transfer coding removed and any content coding kept; interim 1xx
// responses before the final one are skipped.  With --dump DIR, the block,
// the message body as recorded and the payload of record N (0-based, over
// all files) are written to DIR/N.block, DIR/N.body and DIR/N.payload.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import zlib from "node:zlib";
import { WARCParser } from "warcio";

const CRLF2 = Buffer.from("\r\n\r\n");
const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const REPEATABLE = new Set(["warc-concurrent-to", "warc-protocol"]);
const MANDATORY = ["warc-record-id", "content-length", "warc-date", "warc-type"];

class Fatal extends Error {}

function die(msg) {
	throw new Fatal(msg);
}

function base32(bytes) {
	let out = "", bits = 0, acc = 0;
	for (const b of bytes) {
		acc = (acc << 8) | b;
		bits += 8;
		while (bits >= 5) {
			out += B32[(acc >>> (bits - 5)) & 31];
			bits -= 5;
		}
		acc &= 0xff;
	}
	if (bits > 0)
		out += B32[(acc << (5 - bits)) & 31];
	while (out.length % 8)
		out += "=";
	return out;
}

const sha1b32 = (buf) => "sha1:" + base32(createHash("sha1").update(buf).digest());
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// The gzip members of buf: [{start, end, data}], each checked by zlib
// (header, CRC-32 and length).  The end of a member's deflate stream is
// where raw inflation stops consuming input.
function gzipMembers(buf, file) {
	const members = [];
	let pos = 0;
	while (pos < buf.length) {
		const at = `${file}: gzip member ${members.length} at offset ${pos}`;
		if (buf.length - pos < 18 || buf[pos] !== 0x1f || buf[pos + 1] !== 0x8b || buf[pos + 2] !== 8)
			die(`${at}: not a gzip member (bytes ${buf.subarray(pos, pos + 4).toString("hex")})`);
		const flg = buf[pos + 3];
		let p = pos + 10;
		if (flg & 4) p += 2 + buf.readUInt16LE(p);
		if (flg & 8) p = buf.indexOf(0, p) + 1;
		if (flg & 16) p = buf.indexOf(0, p) + 1;
		if (flg & 2) p += 2;
		if (p <= pos || p > buf.length) die(`${at}: truncated gzip header`);
		let used;
		try {
			used = zlib.inflateRawSync(buf.subarray(p), { info: true }).engine.bytesWritten;
		} catch (e) {
			die(`${at}: ${e.message}`);
		}
		const end = p + used + 8;
		if (end > buf.length) die(`${at}: truncated (no gzip trailer)`);
		let data;
		try {
			data = zlib.gunzipSync(buf.subarray(pos, end));
		} catch (e) {
			die(`${at}: ${e.message}`);
		}
		members.push({ start: pos, end, data });
		pos = end;
	}
	return members;
}

// A WARC record's head, parsed here (not by warcio): the version line, the
// fields, the head's length and the Content-Length.
function warcHead(rec, where) {
	const end = rec.indexOf(CRLF2);
	if (end < 0) die(`${where}: no end of the WARC header`);
	const lines = rec.subarray(0, end).toString("latin1").split("\r\n");
	if (!/^WARC\/1\.[01]$/.test(lines[0])) die(`${where}: version line ${JSON.stringify(lines[0])}`);
	const fields = {};
	for (const line of lines.slice(1)) {
		const m = /^([^:\s]+):[ \t]*(.*?)[ \t]*$/.exec(line);
		if (!m) die(`${where}: bad WARC header line ${JSON.stringify(line)}`);
		(fields[m[1].toLowerCase()] ??= []).push(m[2]);
	}
	const cl = fields["content-length"];
	if (!cl || cl.length !== 1 || !/^\d+$/.test(cl[0])) die(`${where}: bad or missing Content-Length`);
	return { version: lines[0], fields, headLen: end + 4, contentLength: Number(cl[0]) };
}

// An HTTP/1.x message head at buf[from..]: null when it does not end.
function httpHead(buf, from) {
	const end = buf.indexOf(CRLF2, from);
	if (end < 0) return null;
	const lines = buf.subarray(from, end).toString("latin1").split("\r\n");
	const headers = [];
	for (const line of lines.slice(1)) {
		const i = line.indexOf(":");
		headers.push(i < 0 ? [line, null] : [line.slice(0, i), line.slice(i + 1).trim()]);
	}
	return { firstLine: lines[0], headers, bodyStart: end + 4 };
}

const hget = (headers, name) =>
	headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

// Remove the chunked coding: {data, complete}.  Stops at the first thing
// that is not a chunk (a truncated record ends so).
function dechunk(body) {
	const parts = [];
	let pos = 0;
	for (;;) {
		const eol = body.indexOf("\r\n", pos);
		if (eol < 0) break;
		const m = /^([0-9a-fA-F]+)[ \t]*(;.*)?$/.exec(body.subarray(pos, eol).toString("latin1"));
		if (!m) break;
		const size = parseInt(m[1], 16);
		const start = eol + 2;
		if (size === 0) {
			// trailer fields, then the empty line
			const tend = body.indexOf("\r\n", start) === start ? start : body.indexOf(CRLF2, start);
			return { data: Buffer.concat(parts), complete: tend >= 0 };
		}
		parts.push(body.subarray(start, Math.min(start + size, body.length)));
		if (start + size + 2 > body.length || body[start + size] !== 13 || body[start + size + 1] !== 10)
			break;
		pos = start + size + 2;
	}
	return { data: Buffer.concat(parts), complete: false };
}

// The HTTP view of an application/http block: {http, body, payload,
// complete, chunked}.
function httpOf(block, type) {
	let from = 0, interim = 0, h;
	for (;;) {
		h = httpHead(block, from);
		if (!h) return { http: null, body: Buffer.alloc(0), payload: Buffer.alloc(0), complete: false, chunked: false };
		const st = /^HTTP\/\d(?:\.\d)? (1\d\d)\b/.exec(h.firstLine);
		if (type === "response" && st && st[1] !== "101") {
			from = h.bodyStart;
			interim++;
			continue;
		}
		break;
	}
	const http = { first_line: h.firstLine, headers: h.headers, interim };
	if (type === "response") {
		const m = /^(HTTP\/\d(?:\.\d)?) (\d{3})(?: (.*))?$/.exec(h.firstLine);
		if (m) Object.assign(http, { version: m[1], status: Number(m[2]), reason: m[3] ?? "" });
	} else {
		const m = /^(\S+) (\S+) (HTTP\/\d(?:\.\d)?)$/.exec(h.firstLine);
		if (m) Object.assign(http, { method: m[1], target: m[2], version: m[3] });
	}
	const body = block.subarray(h.bodyStart);
	const te = hget(h.headers, "transfer-encoding").join(",").toLowerCase();
	const chunked = /(^|,)\s*chunked\s*$/.test(te);
	if (chunked) {
		const d = dechunk(body);
		return { http, body, payload: d.data, complete: d.complete, chunked };
	}
	const cl = hget(h.headers, "content-length");
	if (cl.length && /^\d+$/.test(cl[0])) {
		const n = Number(cl[0]);
		return { http, body, payload: body.subarray(0, n), complete: body.length === n, chunked };
	}
	return { http, body, payload: body, complete: true, chunked };
}

async function readAll(rec, decoded) {
	return Buffer.from(await rec.readFully(decoded));
}

// warcio's own reading of one record's bytes: its HTTP status and the
// content it decodes (transfer and content coding removed).
async function warcioView(recBytes) {
	const parser = new WARCParser([recBytes], { parseHttp: true });
	const rec = await parser.parse();
	if (!rec) return { status: null, decoded: null };
	const status = rec.httpHeaders ? Number(rec.httpHeaders.statusCode) || null : null;
	let decoded = null;
	if (rec.httpHeaders) {
		try {
			decoded = sha256(await readAll(rec, true));
		} catch {
			decoded = null;
		}
	}
	return { status, decoded };
}

async function checkFile(file, out, ids) {
	let buf;
	try {
		buf = readFileSync(file);
	} catch (e) {
		die(`${file}: ${e.message}`);
	}
	if (buf.length === 0) die(`${file}: empty file`);
	const members = gzipMembers(buf, file);

	// Each member must hold exactly one whole record.
	const heads = members.map((m, i) => {
		const where = `${file}: member ${i} at offset ${m.start}`;
		const h = warcHead(m.data, where);
		const want = h.headLen + h.contentLength + 4;
		if (m.data.length !== want)
			die(`${where}: holds ${m.data.length} bytes, one record of Content-Length ${h.contentLength} is ${want}` +
				(m.data.length > want ? " (more than one record in a member?)" : " (a record split over members?)"));
		if (!m.data.subarray(want - 4).equals(CRLF2))
			die(`${where}: the record does not end with CRLF CRLF`);
		return h;
	});

	// The whole file through warcio, as a reader of WARC files would.
	const recs = [];
	try {
		const parser = new WARCParser([buf], { keepHeadersCase: true, parseHttp: false });
		for await (const rec of parser) {
			const block = await readAll(rec, false);
			const fields = {};
			for (const [n, v] of rec.warcHeaders.headers)
				(fields[n.toLowerCase()] ??= []).push(v);
			recs.push({ version: rec.warcHeaders.statusline, fields, block,
				offset: parser.offset });
		}
	} catch (e) {
		die(`${file}: warcio: ${e.message}`);
	}
	if (recs.length !== members.length)
		die(`${file}: warcio read ${recs.length} records, the file has ${members.length} gzip members`);

	const records = [];
	for (let i = 0; i < recs.length; i++) {
		const r = recs[i], m = members[i], h = heads[i];
		const where = `${file}: record ${i}`;
		const block = m.data.subarray(h.headLen, h.headLen + h.contentLength);
		if (!block.equals(r.block)) die(`${where}: warcio's block differs from the member's`);
		if (r.offset !== m.start) die(`${where}: warcio puts it at offset ${r.offset}, the member starts at ${m.start}`);
		const one = (n) => (h.fields[n] ? h.fields[n][0] : null);
		const problems = [];
		for (const n of MANDATORY)
			if (!h.fields[n]) problems.push(`no ${n}`);
		for (const [n, v] of Object.entries(h.fields))
			if (v.length > 1 && !REPEATABLE.has(n)) problems.push(`${n} given ${v.length} times`);
		// warcio drops <> around WARC-Target-URI (as WARC/1.0 writers
		// such as wget put it); the record's own text is reported.
		const unbracket = (n, v) => (n === "warc-target-uri" ? v.map((x) => x.replace(/^<(.*)>$/, "$1")) : v);
		for (const [n, v] of Object.entries(h.fields))
			if (JSON.stringify(unbracket(n, v)) !== JSON.stringify(r.fields[n] ?? []))
				problems.push(`warcio reads ${n} as ${JSON.stringify(r.fields[n])}, the head says ${JSON.stringify(v)}`);
		const type = one("warc-type");
		const id = one("warc-record-id");
		if (id && !/^<urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}>$/.test(id))
			problems.push(`WARC-Record-ID ${id} is not <urn:uuid:...>`);
		if (id && ids.has(id)) problems.push(`WARC-Record-ID ${id} repeated`);
		ids.add(id);
		const date = one("warc-date");
		if (date && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(date))
			problems.push(`WARC-Date ${date} is not RFC 3339 UTC`);

		const ctype = one("content-type");
		const isHttp = !!ctype && /^application\/http\b/i.test(ctype) && (type === "request" || type === "response");
		const hv = isHttp ? httpOf(block, type) : null;
		const payload = hv ? hv.payload : block;
		const computedBlock = sha1b32(block);
		const computedPayload = sha1b32(payload);
		const bd = one("warc-block-digest"), pd = one("warc-payload-digest");
		if (bd && bd.toLowerCase().startsWith("sha1:") && bd.toUpperCase() !== computedBlock.toUpperCase())
			problems.push(`WARC-Block-Digest ${bd}, computed ${computedBlock}`);
		if (pd && pd.toLowerCase().startsWith("sha1:") && pd.toUpperCase() !== computedPayload.toUpperCase())
			problems.push(`WARC-Payload-Digest ${pd}, computed ${computedPayload}`);
		for (const d of [bd, pd])
			if (d && !d.toLowerCase().startsWith("sha1:")) problems.push(`digest ${d} is not sha1`);

		let wv = { status: null, decoded: null };
		if (isHttp) {
			try {
				wv = await warcioView(m.data);
			} catch (e) {
				die(`${where}: warcio (HTTP): ${e.message}`);
			}
		}
		records.push({
			file, index: i, member_offset: m.start, member_length: m.end - m.start,
			version: h.version, type, record_id: id, date, target_uri: one("warc-target-uri"),
			ip: one("warc-ip-address"), concurrent_to: h.fields["warc-concurrent-to"] ?? [],
			protocol: h.fields["warc-protocol"] ?? [], truncated: one("warc-truncated"),
			content_type: ctype, content_length: h.contentLength,
			block_digest: bd, payload_digest: pd,
			computed_block_digest: computedBlock, computed_payload_digest: computedPayload,
			block_sha256: sha256(block), body_sha256: hv ? sha256(hv.body) : null,
			payload_sha256: sha256(payload), payload_length: payload.length,
			payload_complete: hv ? hv.complete : true, chunked: hv ? hv.chunked : false,
			http: hv ? hv.http : null,
			warcio_status: wv.status, warcio_decoded_sha256: wv.decoded,
			fields: h.fields, problems,
			_bytes: { block, body: hv ? hv.body : null, payload },
		});
	}
	out.files.push({ file, size: buf.length, members: members.length, records: records.length });
	out.records.push(...records);
}

async function main(argv) {
	let dump = null;
	const files = [];
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === "--dump") dump = argv[++i];
		else files.push(argv[i]);
	}
	if (!files.length || (dump === undefined)) {
		process.stderr.write("usage: node check.mjs [--dump DIR] FILE.warc.gz...\n");
		return 2;
	}
	const out = { files: [], records: [] };
	const ids = new Set();
	try {
		for (const f of files) await checkFile(f, out, ids);
	} catch (e) {
		process.stderr.write(`check.mjs: ${e instanceof Fatal ? e.message : e.stack}\n`);
		return 1;
	}
	// WARC-Concurrent-To must name a record of the files.
	const byId = new Map(out.records.map((r) => [r.record_id, r]));
	out.records.forEach((r, n) => {
		for (const c of r.concurrent_to)
			if (!byId.has(c)) r.problems.push(`WARC-Concurrent-To ${c} names no record`);
		if (dump) {
			mkdirSync(dump, { recursive: true });
			writeFileSync(`${dump}/${n}.block`, r._bytes.block);
			if (r._bytes.body) writeFileSync(`${dump}/${n}.body`, r._bytes.body);
			writeFileSync(`${dump}/${n}.payload`, r._bytes.payload);
		}
		delete r._bytes;
	});
	process.stdout.write(JSON.stringify(out, null, 1) + "\n");
	return 0;
}

process.exitCode = await main(process.argv.slice(2));
