// Regenerates the data files beside it from the npm package twitter-text 3.1.0 (and the twemoji-parser it depends
// on), so that the C# port in ../ reads exactly the TLD lists, character classes and emoji pattern twitter-text uses,
// and the normalization data of the Node that runs it (twitter-text normalizes with Node's ICU: use the Node the
// tests compare with, 20 here).
//
//   npm install --prefix /tmp/tt twitter-text@3.1.0
//   node XGrowth.Api/Posts/Length/Data/generate.js /tmp/tt/node_modules
//
// Character classes are written as the code units (U+0000-U+FFFF) that the package's own regular expressions accept
// one at a time, with their flags (twitter-text's are case-insensitive and not in Unicode mode), so case folding is
// V8's and not re-derived here.
'use strict';
const fs = require('fs');
const path = require('path');
const modules = path.resolve(process.argv[2] || 'node_modules');
const regexp = (name) => require(path.join(modules, 'twitter-text/dist/regexp', name));
const out = __dirname;

const gtld = regexp('validGTLD').source;
const cctld = regexp('validCCTLD').source;
const list = (source) => source.replace(/^\(\?:\(\?:/, '').replace(/\)\(\?=\[\^0-9a-zA-Z@\+-\]\|\$\)\)$/, '').split('|');
const gtlds = list(gtld);
const cctlds = list(cctld);
for (const [name, source, tlds] of [['generic', gtld, gtlds], ['country code', cctld, cctlds]]) {
  if (`(?:(?:${tlds.join('|')})(?=[^0-9a-zA-Z@+-]|$))` !== source) {
    throw new Error(`the ${name} TLD pattern is not a plain list followed by the usual lookahead`);
  }
}
fs.writeFileSync(path.join(out, 'tlds.txt'),
  '# twitter-text 3.1.0 TLDs in the order of its alternations (order decides which of two matches wins).\n' +
  '[generic]\n' + gtlds.join('\n') + '\n[country-code]\n' + cctlds.join('\n') + '\n');

// The pieces of twitter-text's extractUrl pattern, each tested on single code units with the flags of the pattern.
const invalidDomainChars = regexp('invalidDomainChars');
const urlPath = regexp('validGeneralUrlPathChars').source;
const classes = {
  'url-preceding': new RegExp('^' + regexp('validUrlPrecedingChars').source + '$', 'i'),
  'domain': new RegExp('^[^' + invalidDomainChars + ']$', 'i'),
  'path': new RegExp('^' + urlPath + '$', 'i'),
  'path-ending': new RegExp('^' + regexp('validUrlPathEndingChars').source.split('|')[0] + '$', 'i'),
  'query': new RegExp('^' + regexp('validUrlQueryChars').source + '$', 'i'),
  'query-ending': new RegExp('^' + regexp('validUrlQueryEndingChars').source + '$', 'i'),
  'ascii-domain': new RegExp('^' + regexp('validAsciiDomain').source.match(/^\(\?:\(\?:(\[[^\]]+\])\+\)/)[1] + '$', 'i'),
  'punycode': new RegExp('^[\\-0-9a-z]$', 'i'),
  'tco-slug': new RegExp('^[a-z0-9]$', 'i'),
  'digit': /^[0-9]$/,
  'invalid': new RegExp('^' + regexp('invalidChars').source + '$'),
};
// Literal characters of the patterns, case-insensitive: the code units each one matches.
const literals = new Set('httpsxn-:/.'.split(''));
for (const tld of gtlds.concat(cctlds)) for (const ch of tld) literals.add(ch);
const ranges = (test) => {
  const result = [];
  let start = -1;
  for (let c = 0; c <= 0x10000; c++) {
    const inside = c < 0x10000 && test(String.fromCharCode(c));
    if (inside && start < 0) start = c;
    if (!inside && start >= 0) { result.push(start === c - 1 ? hex(start) : hex(start) + '-' + hex(c - 1)); start = -1; }
  }
  return result.join(' ');
};
const hex = (c) => c.toString(16).toUpperCase().padStart(4, '0');
let text = '# twitter-text 3.1.0 character classes: name, then the UTF-16 code units it accepts (hex ranges).\n';
for (const [name, re] of Object.entries(classes)) text += name + ' ' + ranges((s) => re.test(s)) + '\n';
text += '# Case-insensitive literals: the character, then every code unit the pattern /x/i accepts for it.\n';
for (const ch of [...literals].sort()) {
  if (ch.length !== 1) throw new Error('TLD with a character outside the BMP: ' + ch);
  const re = new RegExp('^' + ch.replace(/[.\-/]/, '\\$&') + '$', 'i');
  text += 'literal ' + hex(ch.charCodeAt(0)) + ' ' + ranges((s) => re.test(s)) + '\n';
}
fs.writeFileSync(path.join(out, 'char-classes.txt'), text);

// twemoji-parser's pattern is used as it is: it has no unbounded repetition.
const emoji = require(path.join(modules, 'twemoji-parser/dist/lib/regex.js')).default;
fs.writeFileSync(path.join(out, 'emoji-pattern.txt'), emoji.source + '\n');
// Unicode normalization as this Node's ICU does it (twitter-text calls text.normalize()): the full canonical
// decomposition of every code point that has one (Hangul syllables are algorithmic), the canonical combining classes
// as ranks (only their order matters: JavaScript does not expose the numbers, so they are sorted by how NFD orders
// two marks), and the pairs that compose (primary composites).
const cp = (c) => c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
const cps = (s) => [...s].map(cp).join(' ');
const isHangulSyllable = (c) => c >= 0xAC00 && c <= 0xD7A3;
const decompositions = [];
const nonStarters = [];
const composites = [];
for (let c = 0; c <= 0x10FFFF; c++) {
  if (c >= 0xD800 && c <= 0xDFFF) continue;
  const s = String.fromCodePoint(c);
  const nfd = s.normalize('NFD');
  if (nfd !== s) {
    if (!isHangulSyllable(c)) decompositions.push(cp(s) + ' ' + cps(nfd));
    if (s.normalize('NFC') === s && !isHangulSyllable(c)) composites.push(c);
    continue;
  }
  // A non-starter is reordered against U+0334 (class 1) or U+0345 (class 240, the highest).
  if (('a' + s + '̴').normalize('NFD') !== 'a' + s + '̴' || ('aͅ' + s).normalize('NFD') !== 'aͅ' + s) {
    nonStarters.push(s);
  }
}
const before = (a, b) => ('x' + b + a).normalize('NFD') === 'x' + a + b; // class(a) < class(b)
const compare = (a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0);
nonStarters.sort(compare);
let rank = 0;
const ranks = nonStarters.map((s, i) => { if (i === 0 || compare(nonStarters[i - 1], s) !== 0) rank++; return 'ccc ' + cp(s) + ' ' + rank; });
// A primary composite P decomposes to NFD(X) + Y: it composes from X = NFC(NFD(P) less its last code point) and Y.
const pairs = composites.map((c) => {
  const nfd = [...String.fromCodePoint(c).normalize('NFD')];
  const y = nfd.pop();
  const x = nfd.join('').normalize('NFC');
  if ([...x].length !== 1 || (x + y).normalize('NFC') !== String.fromCodePoint(c)) throw new Error('cannot derive the pair of U+' + c.toString(16));
  return 'compose ' + cp(x) + ' ' + cp(y) + ' ' + cp(String.fromCodePoint(c));
});
fs.writeFileSync(path.join(out, 'normalization.txt'),
  `# NFC data of Node ${process.version} (ICU ${process.versions.icu}, Unicode ${process.versions.unicode}): decompositions, combining class ranks, compositions (hex).\n` +
  decompositions.map((d) => 'decompose ' + d).join('\n') + '\n' + ranks.join('\n') + '\n' + pairs.join('\n') + '\n');
console.log(`${decompositions.length} decompositions, ${nonStarters.length} non-starters in ${rank} classes, ${pairs.length} compositions`);
console.log(`${gtlds.length} generic and ${cctlds.length} country-code TLDs, ${Object.keys(classes).length} classes, ${literals.size} literals`);
