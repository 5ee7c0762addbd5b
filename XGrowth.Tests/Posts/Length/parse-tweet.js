// Reads a JSON array of texts on stdin and writes, for each, twitter-text's parseTweet verdict
// ({ "weightedLength", "valid" }, or { "error" } when twitter-text throws), or with the argument "normalize" the
// text.normalize() twitter-text counts. Run by TwitterTextNode.cs with NODE_PATH pointing at the node_modules
// folder holding twitter-text 3.1.0. Output is ASCII JSON so that lone surrogates come back as they are.
'use strict';
const twttr = require('twitter-text');
const version = require('twitter-text/package.json').version;
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const texts = JSON.parse(input);
  const results = process.argv[2] === 'normalize' ? texts.map((text) => text.normalize()) : texts.map((text) => {
    try {
      const parsed = twttr.parseTweet(text);
      return { weightedLength: parsed.weightedLength, valid: parsed.valid };
    } catch (e) {
      return { error: String(e) };
    }
  });
  const json = JSON.stringify({ version, results }).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  process.stdout.write(json);
});
