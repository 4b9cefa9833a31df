// gqlparser ASTs to and from Rego values, as OPA produces and consumes them:
// out through encoding/json (Go field names as keys) followed by OPA's
// pruning of "Position" keys, nulls and empty arrays/objects; in through
// encoding/json's strict typing plus the custom UnmarshalJSON methods
// gqlparser provides for operations, fields, inline fragments and fragment
// definitions (which, notably, decode every object in a selection set as a
// Field, and ignore the "Comment" keys).
import {
  ObjectBuilder,
  isArray,
  isBigNum,
  isObject,
  isSet,
  objectEntries,
  toJSONText,
  type Value as RV,
} from "../../value.js";
import { toBigInt } from "../../number.js";
import type { QueryDocument, SchemaDocument, Selection } from "./gqlparser.js";

type FT = "s" | "b" | "i" | "pos" | "sel" | { p: string } | { l: FT };

const P = (t: string): FT => ({ p: t });
const L = (t: FT): FT => ({ l: t });
const CG = P("CommentGroup");
const DIRS = L(P("Directive"));

/** Struct layouts: Go field name and type, in declaration order. */
const STRUCTS: Record<string, [string, FT][]> = {
  QueryDocument: [
    ["Operations", L(P("OperationDefinition"))],
    ["Fragments", L(P("FragmentDefinition"))],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  OperationDefinition: [
    ["Operation", "s"],
    ["Name", "s"],
    ["VariableDefinitions", L(P("VariableDefinition"))],
    ["Directives", DIRS],
    ["SelectionSet", "sel"],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  VariableDefinition: [
    ["Variable", "s"],
    ["Type", P("Type")],
    ["DefaultValue", P("Value")],
    ["Directives", DIRS],
    ["Position", "pos"],
    ["Comment", CG],
    ["Definition", P("Definition")],
    ["Used", "b"],
  ],
  Field: [
    ["Alias", "s"],
    ["Name", "s"],
    ["Arguments", L(P("Argument"))],
    ["Directives", DIRS],
    ["SelectionSet", "sel"],
    ["Position", "pos"],
    ["Comment", CG],
    ["Definition", P("FieldDefinition")],
    ["ObjectDefinition", P("Definition")],
  ],
  FragmentSpread: [
    ["Name", "s"],
    ["Directives", DIRS],
    ["ObjectDefinition", P("Definition")],
    ["Definition", P("FragmentDefinition")],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  InlineFragment: [
    ["TypeCondition", "s"],
    ["Directives", DIRS],
    ["SelectionSet", "sel"],
    ["ObjectDefinition", P("Definition")],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  FragmentDefinition: [
    ["Name", "s"],
    ["VariableDefinition", L(P("VariableDefinition"))],
    ["TypeCondition", "s"],
    ["Directives", DIRS],
    ["SelectionSet", "sel"],
    ["Definition", P("Definition")],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  Argument: [
    ["Name", "s"],
    ["Value", P("Value")],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  Directive: [
    ["Name", "s"],
    ["Arguments", L(P("Argument"))],
    ["Position", "pos"],
    ["ParentDefinition", P("Definition")],
    ["Definition", P("DirectiveDefinition")],
    ["Location", "s"],
  ],
  Value: [
    ["Raw", "s"],
    ["Children", L(P("ChildValue"))],
    ["Kind", "i"],
    ["Position", "pos"],
    ["Comment", CG],
    ["Definition", P("Definition")],
    ["VariableDefinition", P("VariableDefinition")],
    ["ExpectedType", P("Type")],
    ["ExpectedTypeHasDefault", "b"],
  ],
  ChildValue: [
    ["Name", "s"],
    ["Value", P("Value")],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  Type: [
    ["NamedType", "s"],
    ["Elem", P("Type")],
    ["NonNull", "b"],
    ["Position", "pos"],
  ],
  CommentGroup: [["List", L(P("Comment"))]],
  // Comment.Position is marshalled by Go, but OPA prunes every "Position" key.
  Comment: [
    ["Value", "s"],
    ["Position", "pos"],
  ],
  SchemaDocument: [
    ["Schema", L(P("SchemaDefinition"))],
    ["SchemaExtension", L(P("SchemaDefinition"))],
    ["Directives", L(P("DirectiveDefinition"))],
    ["Definitions", L(P("Definition"))],
    ["Extensions", L(P("Definition"))],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  SchemaDefinition: [
    ["Description", "s"],
    ["Directives", DIRS],
    ["OperationTypes", L(P("OperationTypeDefinition"))],
    ["Position", "pos"],
    ["BeforeDescriptionComment", CG],
    ["AfterDescriptionComment", CG],
    ["EndOfDefinitionComment", CG],
  ],
  OperationTypeDefinition: [
    ["Operation", "s"],
    ["Type", "s"],
    ["Position", "pos"],
    ["Comment", CG],
  ],
  Definition: [
    ["Kind", "s"],
    ["Description", "s"],
    ["Name", "s"],
    ["Directives", DIRS],
    ["Interfaces", L("s")],
    ["Fields", L(P("FieldDefinition"))],
    ["Types", L("s")],
    ["EnumValues", L(P("EnumValueDefinition"))],
    ["Position", "pos"],
    ["BuiltIn", "b"],
    ["BeforeDescriptionComment", CG],
    ["AfterDescriptionComment", CG],
    ["EndOfDefinitionComment", CG],
  ],
  FieldDefinition: [
    ["Description", "s"],
    ["Name", "s"],
    ["Arguments", L(P("ArgumentDefinition"))],
    ["DefaultValue", P("Value")],
    ["Type", P("Type")],
    ["Directives", DIRS],
    ["Position", "pos"],
    ["BeforeDescriptionComment", CG],
    ["AfterDescriptionComment", CG],
  ],
  ArgumentDefinition: [
    ["Description", "s"],
    ["Name", "s"],
    ["DefaultValue", P("Value")],
    ["Type", P("Type")],
    ["Directives", DIRS],
    ["Position", "pos"],
    ["BeforeDescriptionComment", CG],
    ["AfterDescriptionComment", CG],
  ],
  EnumValueDefinition: [
    ["Description", "s"],
    ["Name", "s"],
    ["Directives", DIRS],
    ["Position", "pos"],
    ["BeforeDescriptionComment", CG],
    ["AfterDescriptionComment", CG],
  ],
  DirectiveDefinition: [
    ["Description", "s"],
    ["Name", "s"],
    ["Arguments", L(P("ArgumentDefinition"))],
    ["Locations", L("s")],
    ["IsRepeatable", "b"],
    ["Position", "pos"],
    ["BeforeDescriptionComment", CG],
    ["AfterDescriptionComment", CG],
  ],
};

/** Keys gqlparser's hand-written UnmarshalJSON methods look at (exact names; others are ignored). */
const CUSTOM_KEYS: Record<string, Set<string>> = {
  OperationDefinition: new Set([
    "Operation",
    "Name",
    "VariableDefinitions",
    "Directives",
    "SelectionSet",
    "Position",
  ]),
  Field: new Set([
    "Alias",
    "Name",
    "Arguments",
    "Directives",
    "SelectionSet",
    "Position",
    "Definition",
    "ObjectDefinition",
  ]),
  InlineFragment: new Set(["TypeCondition", "Directives", "SelectionSet", "ObjectDefinition", "Position"]),
  FragmentDefinition: new Set([
    "Name",
    "VariableDefinition",
    "TypeCondition",
    "Directives",
    "SelectionSet",
    "Definition",
    "Position",
  ]),
};

// ---- encoding (marshal + OPA's pruning) ----

type Node = Record<string, unknown>;

function encodeField(ft: FT, v: unknown): RV | undefined {
  if (v === null || v === undefined) return undefined;
  if (ft === "s") return v as string;
  if (ft === "b") return v as boolean;
  if (ft === "i") return v as number;
  if (ft === "pos") return undefined;
  if (ft === "sel") {
    const out: RV[] = [];
    for (const s of v as Selection[]) {
      const e = s ? encodeStruct(s.$kind, s as unknown as Node) : undefined;
      if (e !== undefined) out.push(e);
    }
    return out.length ? out : undefined;
  }
  if ("p" in ft) return encodeStruct(ft.p, v as Node);
  const out: RV[] = [];
  for (const x of v as unknown[]) {
    const e = encodeField(ft.l, x);
    if (e !== undefined) out.push(e);
  }
  return out.length ? out : undefined;
}

function encodeStruct(type: string, node: Node): RV | undefined {
  const b = new ObjectBuilder();
  for (const [name, ft] of STRUCTS[type]!) {
    const e = encodeField(ft, node[name]);
    if (e !== undefined) b.put(name, e);
  }
  return b.size ? b.build() : undefined;
}

/** The pruned JSON form OPA returns for a query document. */
export function queryDocumentValue(doc: QueryDocument): RV {
  return encodeStruct("QueryDocument", doc as unknown as Node) ?? new ObjectBuilder().build();
}
/** The pruned JSON form OPA returns for a schema document. */
export function schemaDocumentValue(doc: SchemaDocument): RV {
  return encodeStruct("SchemaDocument", doc as unknown as Node) ?? new ObjectBuilder().build();
}

// ---- decoding (json.Unmarshal into the Go structs) ----

export class DecodeError extends Error {}

const GO_TYPES: Record<string, string> = { s: "string", b: "bool", i: "int" };

function jsonKind(v: RV): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number" || isBigNum(v)) return "number";
  if (typeof v === "string") return "string";
  if (isArray(v) || isSet(v)) return "array";
  return "object";
}

function typeErr(v: RV, struct: string, field: string, goType: string): DecodeError {
  const what = jsonKind(v) === "number" ? `number ${toJSONText(v)}` : jsonKind(v);
  return new DecodeError(
    `json: cannot unmarshal ${what} into Go struct field ${struct}.${field} of type ${goType}`,
  );
}

/** Object entries with JSON-text keys for non-string keys, as ast.JSON produces. */
function entries(v: RV): [string, RV][] {
  return objectEntries(v as Parameters<typeof objectEntries>[0]).map(([k, x]) => [
    typeof k === "string" ? k : toJSONText(k),
    x,
  ]);
}
const items = (v: RV): RV[] => (isSet(v) ? v.sorted() : (v as RV[]));

const INT_MIN = -(2n ** 63n);
const INT_MAX = 2n ** 63n - 1n;

function goTypeName(ft: FT): string {
  if (typeof ft === "string") return GO_TYPES[ft] ?? "ast.Position";
  if ("p" in ft) return "*ast." + ft.p;
  return "[]" + goTypeName(ft.l);
}

function decodeField(ft: FT, v: RV, struct: string, field: string): unknown {
  if (ft === "sel") return decodeSelectionSet(v);
  if (v === null) return null; // null leaves Go's zero value; callers substitute it
  switch (ft) {
    case "s":
      if (typeof v !== "string") throw typeErr(v, struct, field, "string");
      return v;
    case "b":
      if (typeof v !== "boolean") throw typeErr(v, struct, field, "bool");
      return v;
    case "i": {
      if (typeof v !== "number" && !isBigNum(v)) throw typeErr(v, struct, field, "int");
      const n = toBigInt(v);
      if (n === null || n < INT_MIN || n > INT_MAX) throw typeErr(v, struct, field, "int");
      return Number(n);
    }
    case "pos":
      if (!isObject(v)) throw typeErr(v, struct, field, "ast.Position");
      return null;
  }
  if ("p" in ft) {
    if (!isObject(v)) throw typeErr(v, struct, field, goTypeName(ft));
    return decodeStruct(ft.p, v);
  }
  if (!isArray(v) && !isSet(v)) throw typeErr(v, struct, field, goTypeName(ft));
  return items(v).map((x) => (x === null ? zeroOf(ft.l) : decodeField(ft.l, x, struct, field)));
}

function zeroOf(ft: FT): unknown {
  if (ft === "s") return "";
  if (ft === "b") return false;
  if (ft === "i") return 0;
  return null;
}

function emptyStruct(type: string): Node {
  const n: Node = {};
  for (const [name, ft] of STRUCTS[type]!) n[name] = zeroOf(ft);
  if (type === "Field" || type === "FragmentSpread" || type === "InlineFragment") n.$kind = type;
  return n;
}

function decodeStruct(type: string, v: RV): Node {
  if (!isObject(v))
    throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type ast.${type}`);
  const node = emptyStruct(type);
  const layout = STRUCTS[type]!;
  const custom = CUSTOM_KEYS[type];
  for (const [k, x] of entries(v)) {
    let entry: [string, FT] | undefined;
    if (custom) {
      if (!custom.has(k)) continue;
      entry = layout.find(([n]) => n === k);
    } else {
      // encoding/json: exact name first, then a case-insensitive match; "-" fields never.
      entry =
        layout.find(([n, ft]) => n === k && ft !== "pos") ??
        layout.find(([n, ft]) => n.toLowerCase() === k.toLowerCase() && ft !== "pos");
    }
    if (!entry) continue;
    const [name, ft] = entry;
    const d = decodeField(ft, x, type, name);
    if (d !== null) node[name] = d;
  }
  return node;
}

/** gqlparser's UnmarshalSelectionSet: each item as a Field, else a FragmentSpread, else an InlineFragment. */
function decodeSelectionSet(v: RV): Selection[] {
  if (v === null) return [];
  if (!isArray(v) && !isSet(v))
    throw new DecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type []json.RawMessage`);
  const out: Selection[] = [];
  for (const item of items(v)) {
    if (item === null) {
      out.push(emptyStruct("Field") as unknown as Selection);
      continue;
    }
    for (const kind of ["Field", "FragmentSpread", "InlineFragment"]) {
      try {
        out.push(decodeStruct(kind, item) as unknown as Selection);
        break;
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }
  }
  return out;
}

export function decodeQueryDocument(v: RV): QueryDocument {
  return decodeStruct("QueryDocument", v) as unknown as QueryDocument;
}
export function decodeSchemaDocument(v: RV): SchemaDocument {
  return decodeStruct("SchemaDocument", v) as unknown as SchemaDocument;
}
