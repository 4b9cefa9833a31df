import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/graphql.js";
import { builtinTester } from "./helpers.js";
import { fromJS, toJSONText, type Value } from "../../../../pdp/rego/value.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args)!;
const json = (name: string, ...args: Value[]) => toJSONText(call(name, ...args));

// OPA's own expectations (v1/topdown/graphql_test.go).
const SCHEMA = `
  type Employee {
    id: String!
    salary: Int!
  }
  schema {
    query: Query
  }
  type Query {
    employeeByID(id: String!): Employee
  }`;
const QUERY = `{ employeeByID(id: "alice") { salary } }`;
const QUERY_AST =
  '{"Operations":[{"Name":"","Operation":"query","SelectionSet":[{"Alias":"employeeByID","Arguments":[{"Name":"id","Value":{"ExpectedTypeHasDefault":false,"Kind":3,"Raw":"alice"}}],"Name":"employeeByID","SelectionSet":[{"Alias":"salary","Name":"salary"}]}]}]}';
const SCHEMA_AST =
  '{"Definitions":[{"BuiltIn":false,"Description":"","Fields":[{"Description":"","Name":"id","Type":{"NamedType":"String","NonNull":true}},{"Description":"","Name":"salary","Type":{"NamedType":"Int","NonNull":true}}],"Kind":"OBJECT","Name":"Employee"},{"BuiltIn":false,"Description":"","Fields":[{"Arguments":[{"Description":"","Name":"id","Type":{"NamedType":"String","NonNull":true}}],"Description":"","Name":"employeeByID","Type":{"NamedType":"Employee","NonNull":false}}],"Kind":"OBJECT","Name":"Query"}],"Schema":[{"Description":"","OperationTypes":[{"Operation":"query","Type":"Query"}]}]}';

describe("graphql parsing", () => {
  it("returns gqlparser's AST shape", () => {
    expect(json("graphql.parse_query", QUERY)).toBe(QUERY_AST);
    expect(json("graphql.parse_schema", SCHEMA)).toBe(SCHEMA_AST);
    expect(json("graphql.parse", QUERY, SCHEMA)).toBe(`[${QUERY_AST},${SCHEMA_AST}]`);
    expect(json("graphql.parse_query", "")).toBe("{}");
    expect(json("graphql.parse_schema", "")).toBe("{}");
  });

  it("keeps comments where gqlparser attaches them", () => {
    expect(json("graphql.parse_query", "query {\n  # note\n  f\n}")).toBe(
      '{"Operations":[{"Name":"","Operation":"query","SelectionSet":[{"Alias":"f","Comment":{"List":[{"Value":"# note"}]},"Name":"f"}]}]}',
    );
  });

  it("reports syntax errors with their location", () => {
    const e = fails("graphql.parse_query", `{ employeeByID("id: bob") }`);
    expect(e.code).toBe("eval_builtin_error");
    expect(e.message).toBe(
      "graphql.parse_query: Expected Name, found String in GraphQL string at location 1:17",
    );
    expect(fails("graphql.parse_schema", "type Hello {}").message).toBe(
      "graphql.parse_schema: expected at least one definition, found } in GraphQL string at location 1:13",
    );
    expect(fails("graphql.parse_query", "{ a(b: 'x') }").message).toContain("Unexpected <Invalid>");
    expect(fails("graphql.parse_query", 1).message).toBe(
      "graphql.parse_query: operand 1 must be string but got number",
    );
  });

  it("graphql.parse validates, reporting gqlparser's messages", () => {
    expect(fails("graphql.parse", "{ nope }", SCHEMA).message).toBe(
      'graphql.parse: Cannot query field "nope" on type "Query" in GraphQL query string at location 1:3',
    );
    expect(fails("graphql.parse", QUERY, "type Query { a: Foo }").message).toBe(
      "graphql.parse: Error in gqlparser SchemaDocument to Schema conversion: input:1:17: Undefined type Foo.",
    );
    expect(fails("graphql.parse", 5, SCHEMA).message).toBe(
      "graphql.parse: operand 0 must be one of {string, object} but got number",
    );
  });
});

describe("graphql validity", () => {
  it("is_valid and parse_and_verify", () => {
    expect(call("graphql.is_valid", QUERY, SCHEMA)).toBe(true);
    expect(call("graphql.is_valid", `{ employeeByID(id: "bob") }`, SCHEMA)).toBe(false);
    expect(call("graphql.is_valid", `{ employeeByID { salary } }`, SCHEMA)).toBe(false);
    expect(call("graphql.is_valid", QUERY, 5)).toBe(false);
    expect(json("graphql.parse_and_verify", QUERY, SCHEMA)).toBe(`[true,${QUERY_AST},${SCHEMA_AST}]`);
    expect(json("graphql.parse_and_verify", "{ x }", SCHEMA)).toBe("[false,{},{}]");
    expect(json("graphql.parse_and_verify", "", SCHEMA)).toBe(`[true,{},${SCHEMA_AST}]`);
  });

  it("accepts ASTs back as objects", () => {
    const q = fromJS(JSON.parse(QUERY_AST));
    const s = fromJS(JSON.parse(SCHEMA_AST));
    expect(call("graphql.is_valid", q, s)).toBe(true);
    expect(
      call("graphql.is_valid", call("graphql.parse_query", QUERY), call("graphql.parse_schema", SCHEMA)),
    ).toBe(true);
    // gqlparser decodes every selection object as a Field, so fragments do not survive the round trip.
    const withFragment = call("graphql.parse_query", '{ employeeByID(id: "a") { ... on Employee { id } } }');
    expect(call("graphql.is_valid", withFragment, SCHEMA)).toBe(false);
    expect(call("graphql.is_valid", fromJS({ Operations: "x" }), SCHEMA)).toBe(false);
  });

  it("schema_is_valid", () => {
    expect(call("graphql.schema_is_valid", SCHEMA)).toBe(true);
    expect(call("graphql.schema_is_valid", "")).toBe(true);
    expect(call("graphql.schema_is_valid", "type Query { a: Foo }")).toBe(false);
    expect(call("graphql.schema_is_valid", "extend type User { id: ID! }")).toBe(true);
    expect(call("graphql.schema_is_valid", "type Query { a: Int }\ntype Query { b: Int }")).toBe(false);
    expect(call("graphql.schema_is_valid", fromJS(JSON.parse(SCHEMA_AST)))).toBe(true);
  });

  it("applies the spec's rules", () => {
    const schema = `
      interface Node { id: ID! }
      type User implements Node { id: ID! name(upper: Boolean): String friends: [User] }
      enum Role { ADMIN USER }
      input Filter { role: Role! limit: Int = 10 }
      type Query { user(id: ID!): User users(filter: Filter): [User] node: Node }
    `;
    const valid = (q: string) => call("graphql.is_valid", q, schema);
    expect(valid(`query($id: ID!) { user(id: $id) { name(upper: true) friends { id } } }`)).toBe(true);
    expect(valid(`{ users(filter: {role: ADMIN}) { id } }`)).toBe(true);
    expect(valid(`{ users(filter: {role: NOPE}) { id } }`)).toBe(false);
    expect(valid(`{ users(filter: {limit: 1}) { id } }`)).toBe(false);
    expect(valid(`{ user(id: 1) { a: name b: id } }`)).toBe(true);
    expect(valid(`{ user(id: 1) { a: name a: id } }`)).toBe(false);
    expect(valid(`query($id: ID) { user(id: $id) { id } }`)).toBe(false);
    expect(valid(`query($id: ID!) { user(id: "1") { id } }`)).toBe(false);
    expect(valid(`{ user(id: 1) { ...F } } fragment F on User { ...G } fragment G on User { ...F }`)).toBe(
      false,
    );
    expect(valid(`{ node { id ... on User { name } } }`)).toBe(true);
    expect(valid(`{ node { name } }`)).toBe(false);
    expect(valid(`{ user(id: 1) { id @skip(if: true) } }`)).toBe(true);
    expect(valid(`{ user(id: 1) { id @unknown } }`)).toBe(false);
    expect(valid(`mutation { x }`)).toBe(false);
    expect(valid(`{ __typename __schema { types { name } } }`)).toBe(true);
  });
});
