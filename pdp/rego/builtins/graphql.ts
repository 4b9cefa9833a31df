// graphql.* builtins, after OPA's topdown/graphql.go, on a port of the
// gqlparser library OPA uses (lib/gqlparser.ts, lib/gqlvalidator.ts) so that
// validity decisions, error texts and the returned AST shapes match OPA's.
// Queries and schemas are accepted as source strings or as the AST objects
// these builtins return.
import { BuiltinError, type BuiltinDef } from "./registry.js";
import { ObjectBuilder, isObject, type Value } from "../value.js";
import { builtinErr, def, strArg, typeErr } from "./lib/args.js";
import {
  GQLError,
  parseQuery,
  parseSchema,
  type QueryDocument,
  type SchemaDocument,
} from "./lib/gqlparser.js";
import {
  DecodeError,
  decodeQueryDocument,
  decodeSchemaDocument,
  queryDocumentValue,
  schemaDocumentValue,
} from "./lib/gqljson.js";
import {
  mergeSchemaDocuments,
  preludeDocument,
  validateQuery,
  validateSchemaDocument,
  type Schema,
} from "./lib/gqlvalidator.js";

/** A failure OPA reports with this exact text (or, for the boolean builtins, as false). */
class GraphQLFailure extends Error {}

const NIL_DEREF = "runtime error: invalid memory address or nil pointer dereference";

/**
 * Malformed AST objects can make gqlparser dereference nil pointers; OPA
 * then fails the call. JS surfaces the same situation as a TypeError.
 */
function guarded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TypeError) throw new GQLError(NIL_DEREF);
    throw e;
  }
}

/** OPA's rewrite of gqlparser's "input:L:C: msg" errors. */
function locate(err: GQLError, what: string): GraphQLFailure {
  const text = err.text();
  const m = /^[^:]*:(\d+):(\d+): ([\s\S]*)$/.exec(text);
  if (!m) return new GraphQLFailure(`GraphQL parse error: ${text}`);
  return new GraphQLFailure(`${m[3]!.replace(/^ +/, "")} in ${what} at location ${m[1]}:${m[2]}`);
}

function parseQueryString(s: string): QueryDocument {
  try {
    return parseQuery(s);
  } catch (e) {
    if (e instanceof GQLError) throw locate(e, "GraphQL string");
    throw e;
  }
}

function parseSchemaString(s: string): SchemaDocument {
  try {
    return parseSchema({ Name: "", Input: s, BuiltIn: false });
  } catch (e) {
    if (e instanceof GQLError) throw locate(e, "GraphQL string");
    throw e;
  }
}

function decoded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) throw new GraphQLFailure(e.message);
    throw e;
  }
}

function queryDoc(name: string, v: Value): QueryDocument {
  if (typeof v === "string") return parseQueryString(v);
  if (isObject(v)) return decoded(() => decodeQueryDocument(v));
  throw typeErr(name, 0, v, "string", "object");
}

function schemaDoc(name: string, v: Value): SchemaDocument {
  if (typeof v === "string") return parseSchemaString(v);
  if (isObject(v)) return decoded(() => decodeSchemaDocument(v));
  throw typeErr(name, 1, v, "string", "object");
}

/** OPA's convertSchema: the prelude's built-in types merged in, then validated. */
function convertSchema(doc: SchemaDocument): Schema {
  try {
    return guarded(() => validateSchemaDocument(mergeSchemaDocuments(preludeDocument(), doc)));
  } catch (e) {
    if (e instanceof GQLError) {
      throw new GraphQLFailure(`Error in gqlparser SchemaDocument to Schema conversion: ${e.text()}`);
    }
    throw e;
  }
}

/** OPA's validateQuery: the whole error list, rewritten around the first location. */
function verify(schema: Schema, doc: QueryDocument): void {
  let errors: GQLError[];
  try {
    errors = guarded(() => validateQuery(schema, doc));
  } catch (e) {
    if (e instanceof GQLError) errors = [e];
    else throw e;
  }
  if (errors.length === 0) return;
  const text = errors.map((e) => e.text() + "\n").join("");
  const m = /^[^:]*:(\d+):(\d+):([\s\S]*)$/.exec(text);
  if (!m) throw new GraphQLFailure(`GraphQL parse error: ${text}`);
  let msg = m[3]!.replace(/^ +/, "");
  if (msg.endsWith(".\n")) msg = msg.slice(0, -2);
  throw new GraphQLFailure(`${msg} in GraphQL query string at location ${m[1]}:${m[2]}`);
}

/** Runs a builtin body, reporting GraphQL failures as OPA's builtin errors. */
function reporting(name: string, f: () => Value): Value {
  try {
    return f();
  } catch (e) {
    if (e instanceof GraphQLFailure) throw builtinErr(name, e.message);
    throw e;
  }
}

/** Runs a body where any GraphQL failure (or operand type) just means "not valid". */
function orElse(f: () => Value, fallback: Value): Value {
  try {
    return f();
  } catch (e) {
    if (e instanceof GraphQLFailure || e instanceof GQLError || e instanceof DecodeError) return fallback;
    if (e instanceof BuiltinError) return fallback;
    // Absurdly deep documents exhaust the JS stack where Go's would grow; still just "not valid".
    if (e instanceof RangeError) return fallback;
    throw e;
  }
}

function parse([q, s]: Value[]): Value {
  const name = "graphql.parse";
  return reporting(name, () => {
    const query = queryDoc(name, q!);
    const sdoc = schemaDoc(name, s!);
    const schemaAST = schemaDocumentValue(sdoc);
    const schema = convertSchema(sdoc);
    const queryAST = queryDocumentValue(query);
    verify(schema, query);
    return [queryAST, schemaAST];
  });
}

const emptyObject = (): Value => new ObjectBuilder().build();

function parseAndVerify([q, s]: Value[]): Value {
  return orElse(() => {
    const query = queryDoc("graphql.parse_and_verify", q!);
    const queryAST = queryDocumentValue(query);
    const sdoc = schemaDoc("graphql.parse_and_verify", s!);
    const schemaAST = schemaDocumentValue(sdoc);
    verify(convertSchema(sdoc), query);
    return [true, queryAST, schemaAST];
  }, [false, emptyObject(), emptyObject()]);
}

function parseQueryBuiltin([q]: Value[]): Value {
  const name = "graphql.parse_query";
  const text = strArg(name, q!, 1);
  return reporting(name, () => queryDocumentValue(parseQueryString(text)));
}

function parseSchemaBuiltin([s]: Value[]): Value {
  const name = "graphql.parse_schema";
  const text = strArg(name, s!, 1);
  return reporting(name, () => schemaDocumentValue(parseSchemaString(text)));
}

function isValid([q, s]: Value[]): Value {
  return orElse(() => {
    const query = queryDoc("graphql.is_valid", q!);
    const schema = convertSchema(schemaDoc("graphql.is_valid", s!));
    verify(schema, query);
    return true;
  }, false);
}

function schemaIsValid([s]: Value[]): Value {
  return orElse(() => {
    convertSchema(schemaDoc("graphql.schema_is_valid", s!));
    return true;
  }, false);
}

export const builtins: BuiltinDef[] = [
  def("graphql.parse", 2, parse),
  def("graphql.parse_and_verify", 2, parseAndVerify),
  def("graphql.parse_query", 1, parseQueryBuiltin),
  def("graphql.parse_schema", 1, parseSchemaBuiltin),
  def("graphql.is_valid", 2, isValid),
  def("graphql.schema_is_valid", 1, schemaIsValid),
];
