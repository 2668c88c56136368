// Writes every OTLP/HTTP request body to NNNN-<path>.binpb in OUT_DIR and
// appends one line per request to index.jsonl. Prints the port it listens on.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const outDir = process.env.OUT_DIR || 'out';
fs.mkdirSync(outDir, { recursive: true });
let seq = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', c => chunks.push(c));
  req.on('end', () => {
    seq += 1;
    const body = Buffer.concat(chunks);
    const file = `${String(seq).padStart(4, '0')}${req.url.replace(/\//g, '_')}.binpb`;
    fs.writeFileSync(path.join(outDir, file), body);
    fs.appendFileSync(path.join(outDir, 'index.jsonl'), JSON.stringify({
      seq, method: req.method, path: req.url,
      content_type: req.headers['content-type'] || null,
      content_encoding: req.headers['content-encoding'] || null,
      user_agent: req.headers['user-agent'] || null,
      bytes: body.length, file,
    }) + '\n');
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
