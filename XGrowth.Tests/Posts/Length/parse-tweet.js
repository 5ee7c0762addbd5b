// Reads a JSON array of texts on stdin and writes, for each, twitter-text's parseTweet verdict
// ({ "weightedLength", "valid" }, or { "error" } when twitter-text throws). Run by TwitterTextNode.cs with
// NODE_PATH pointing at the node_modules folder holding twitter-text 3.1.0.
'use strict';
const twttr = require('twitter-text');
const version = require('twitter-text/package.json').version;
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const texts = JSON.parse(input);
  const results = texts.map((text) => {
    try {
      const parsed = twttr.parseTweet(text);
      return { weightedLength: parsed.weightedLength, valid: parsed.valid };
    } catch (e) {
      return { error: String(e) };
    }
  });
  process.stdout.write(JSON.stringify({ version, results }));
});
