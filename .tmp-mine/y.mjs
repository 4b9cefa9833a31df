import YAML from "yaml";
const docs = ["foo:\n   - qux: bar\n   - baz: 2", "foo:\n   - qux: bar\n   - baz: {", '{"json": "ok"}', "  test:\ntest1: hello\n", "a: 1\n---\n\tb: 2\n", "a: 1\n---\nb: 2\n", "a: yes\nb: 0777\nc: 2001-12-14\nd: 1:20\ne: 123456789012345678901234567890\nf: 1.5\ng: ~\n1: x\n? [1,2]\n: y\nh: !!binary aGVsbG8=\n"];
for (const d of docs) {
  const all = YAML.parseAllDocuments(d, { version: "1.1", uniqueKeys: false, intAsBigInt: true,
     customTags: (tags) => tags.filter((t) => !["tag:yaml.org,2002:timestamp"].includes(t.tag) && !(t.format === "TIME")) });
  const arr = Array.isArray(all) ? all : [all];
  console.log(JSON.stringify(d), arr.map(x => x.errors.map(e=>e.code + ":" + e.message.split("\n")[0])));
  if (arr[0] && arr[0].errors.length === 0) console.log(arr[0].toJS({mapAsMap: true}));
}
