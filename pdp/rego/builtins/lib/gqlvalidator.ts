// GraphQL schema and query validation as OPA runs it: a port of
// vektah/gqlparser/v2's validator (ValidateSchemaDocument, the walker, and
// the default rule set in its name-sorted order). Error texts are
// gqlparser's, since OPA surfaces them from graphql.parse. Like the Go
// code, validation annotates the AST it walks (Definition pointers, Used
// flags), so callers marshal ASTs before validating them.
import {
  GQLError,
  VK,
  newFieldDefinition,
  newArgumentDefinition,
  newSchemaDocument,
  newType,
  parseSchema,
  typeName,
  typeString,
  valueString,
  type ArgumentDefinition,
  type Argument,
  type Definition,
  type Directive,
  type DirectiveDefinition,
  type Field,
  type FragmentDefinition,
  type FragmentSpread,
  type InlineFragment,
  type OperationDefinition,
  type Position,
  type QueryDocument,
  type SchemaDocument,
  type Selection,
  type Type,
  type Value,
  type VariableDefinition,
} from "./gqlparser.js";

// The implicit types and directives every schema gets (gqlparser's
// prelude.graphql, without its descriptions, which validation never reads).
const PRELUDE = `
scalar Int
scalar Float
scalar String
scalar Boolean
scalar ID
directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @deprecated(reason: String = "No longer supported") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
directive @specifiedBy(url: String!) on SCALAR
directive @oneOf on INPUT_OBJECT
type __Schema {
  description: String
  types: [__Type!]!
  queryType: __Type!
  mutationType: __Type
  subscriptionType: __Type
  directives: [__Directive!]!
}
type __Type {
  kind: __TypeKind!
  name: String
  description: String
  fields(includeDeprecated: Boolean = false): [__Field!]
  interfaces: [__Type!]
  possibleTypes: [__Type!]
  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
  inputFields: [__InputValue!]
  ofType: __Type
  specifiedByURL: String
  isOneOf: Boolean
}
type __Field {
  name: String!
  description: String
  args: [__InputValue!]!
  type: __Type!
  isDeprecated: Boolean!
  deprecationReason: String
}
type __InputValue {
  name: String!
  description: String
  type: __Type!
  defaultValue: String
}
type __EnumValue {
  name: String!
  description: String
  isDeprecated: Boolean!
  deprecationReason: String
}
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
type __Directive {
  name: String!
  description: String
  locations: [__DirectiveLocation!]!
  args: [__InputValue!]!
  isRepeatable: Boolean!
}
enum __DirectiveLocation {
  QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT VARIABLE_DEFINITION
  SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT
  INPUT_FIELD_DEFINITION
}
`;

/** A fresh parse of the prelude: validation mutates what it is given. */
export function preludeDocument(): SchemaDocument {
  return parseSchema({ Name: "prelude.graphql", Input: PRELUDE, BuiltIn: true });
}

export interface Schema {
  Query: Definition | null;
  Mutation: Definition | null;
  Subscription: Definition | null;
  Types: Map<string, Definition>;
  Directives: Map<string, DirectiveDefinition>;
  PossibleTypes: Map<string, Definition[]>;
  Implements: Map<string, Definition[]>;
}

function errorPos(pos: Position | null, msg: string): GQLError {
  if (!pos) return new GQLError(msg);
  return new GQLError(msg, pos.Line, pos.Column, pos.Src?.Name ?? "");
}

function addTo(m: Map<string, Definition[]>, name: string, def: Definition | undefined): void {
  // Go appends nil for unknown names; later lookups skip them.
  const list = m.get(name) ?? [];
  list.push(def as Definition);
  m.set(name, list);
}

const forName = <T extends { Name: string }>(list: (T | null)[] | null, name: string): T | null =>
  list?.find((x) => x !== null && x.Name === name) ?? null;

export function mergeSchemaDocuments(a: SchemaDocument, b: SchemaDocument): SchemaDocument {
  const cat = <T>(x: T[] | null, y: T[] | null): T[] | null => (x || y ? [...(x ?? []), ...(y ?? [])] : null);
  const out = newSchemaDocument();
  out.Schema = cat(a.Schema, b.Schema);
  out.SchemaExtension = cat(a.SchemaExtension, b.SchemaExtension);
  out.Directives = cat(a.Directives, b.Directives);
  out.Definitions = cat(a.Definitions, b.Definitions);
  out.Extensions = cat(a.Extensions, b.Extensions);
  return out;
}

const isInputType = (d: Definition): boolean =>
  d.Kind === "SCALAR" || d.Kind === "ENUM" || d.Kind === "INPUT_OBJECT";
const isCompositeType = (d: Definition): boolean =>
  d.Kind === "OBJECT" || d.Kind === "INTERFACE" || d.Kind === "UNION";
const isLeafType = (d: Definition): boolean => d.Kind === "ENUM" || d.Kind === "SCALAR";
const isAbstractType = (d: Definition): boolean => d.Kind === "INTERFACE" || d.Kind === "UNION";

/** validator.ValidateSchemaDocument; throws GQLError. */
export function validateSchemaDocument(ast: SchemaDocument): Schema {
  const schema: Schema = {
    Query: null,
    Mutation: null,
    Subscription: null,
    Types: new Map(),
    Directives: new Map(),
    PossibleTypes: new Map(),
    Implements: new Map(),
  };
  for (const def of ast.Definitions ?? []) {
    if (schema.Types.has(def.Name)) throw errorPos(def.Position, `Cannot redeclare type ${def.Name}.`);
    schema.Types.set(def.Name, def);
  }
  const defs = [...(ast.Definitions ?? [])];
  for (const ext of ast.Extensions ?? []) {
    let def = schema.Types.get(ext.Name);
    if (!def) {
      def = {
        ...ext,
        Description: "",
        Directives: null,
        Interfaces: null,
        Fields: null,
        Types: null,
        EnumValues: null,
      };
      def.BuiltIn = false;
      def.BeforeDescriptionComment = def.AfterDescriptionComment = def.EndOfDefinitionComment = null;
      schema.Types.set(ext.Name, def);
      defs.push(def);
    }
    if (def.Kind !== ext.Kind) {
      throw errorPos(
        ext.Position,
        `Cannot extend type ${ext.Name} because the base type is a ${def.Kind}, not ${ext.Kind}.`,
      );
    }
    const cat = <T>(x: T[] | null, y: T[] | null): T[] | null => (y?.length ? [...(x ?? []), ...y] : x);
    def.Directives = cat(def.Directives, ext.Directives);
    def.Interfaces = cat(def.Interfaces, ext.Interfaces);
    def.Fields = cat(def.Fields, ext.Fields);
    def.Types = cat(def.Types, ext.Types);
    def.EnumValues = cat(def.EnumValues, ext.EnumValues);
  }
  for (const def of defs) {
    switch (def.Kind) {
      case "UNION":
        for (const t of def.Types ?? []) {
          addTo(schema.PossibleTypes, def.Name, schema.Types.get(t));
          addTo(schema.Implements, t, def);
        }
        break;
      case "INPUT_OBJECT":
      case "OBJECT":
        for (const intf of def.Interfaces ?? []) {
          addTo(schema.PossibleTypes, intf, def);
          addTo(schema.Implements, def.Name, schema.Types.get(intf));
        }
        addTo(schema.PossibleTypes, def.Name, def);
        break;
      case "INTERFACE":
        for (const intf of def.Interfaces ?? []) {
          addTo(schema.PossibleTypes, intf, def);
          addTo(schema.Implements, def.Name, schema.Types.get(intf));
        }
        break;
    }
  }
  for (const dir of ast.Directives ?? []) {
    if (schema.Directives.has(dir.Name)) {
      // The spec lets SDL restate the built-in directives; the first one wins.
      if (!["include", "skip", "deprecated", "specifiedBy", "oneOf"].includes(dir.Name)) {
        throw errorPos(dir.Position, `Cannot redeclare directive ${dir.Name}.`);
      }
      continue;
    }
    schema.Directives.set(dir.Name, dir);
  }
  const schemas = ast.Schema ?? [];
  if (schemas.length > 1) {
    throw errorPos(
      schemas[1]!.Position,
      "Cannot have multiple schema entry points, consider schema extensions instead.",
    );
  }
  const setRoot = (op: string, def: Definition): void => {
    if (op === "query") schema.Query = def;
    else if (op === "mutation") schema.Mutation = def;
    else if (op === "subscription") schema.Subscription = def;
  };
  for (const sd of [...schemas, ...(ast.SchemaExtension ?? [])]) {
    for (const entry of sd.OperationTypes ?? []) {
      const def = schema.Types.get(entry.Type);
      if (!def) {
        throw errorPos(
          entry.Position,
          `Schema root ${entry.Operation} refers to a type ${entry.Type} that does not exist.`,
        );
      }
      setRoot(entry.Operation, def);
    }
  }
  for (const name of [...schema.Types.keys()].sort(byteOrder))
    validateDefinition(schema, schema.Types.get(name)!);
  for (const name of [...schema.Directives.keys()].sort(byteOrder)) {
    const dir = schema.Directives.get(name)!;
    validateName(dir.Position, dir.Name);
    validateArgs(schema, dir.Arguments, dir);
  }
  if (schemas.length === 0) {
    schema.Query ??= schema.Types.get("Query") ?? null;
    schema.Mutation ??= schema.Types.get("Mutation") ?? null;
    schema.Subscription ??= schema.Types.get("Subscription") ?? null;
  }
  if (schema.Query) {
    const schemaField = newFieldDefinition();
    schemaField.Name = "__schema";
    schemaField.Type = { ...newType(), NamedType: "__Schema", NonNull: true };
    const typeField = newFieldDefinition();
    typeField.Name = "__type";
    typeField.Type = { ...newType(), NamedType: "__Type" };
    const nameArg = newArgumentDefinition();
    nameArg.Name = "name";
    nameArg.Type = { ...newType(), NamedType: "String", NonNull: true };
    typeField.Arguments = [nameArg];
    schema.Query.Fields = [...(schema.Query.Fields ?? []), schemaField, typeField];
  }
  return schema;
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function validateName(pos: Position | null, name: string): void {
  if (name.startsWith("__")) {
    throw errorPos(
      pos,
      `Name "${name}" must not begin with "__", which is reserved by GraphQL introspection.`,
    );
  }
}

function validateTypeRef(schema: Schema, typ: Type | null): void {
  if (!typ) throw new GQLError("runtime error: invalid memory address or nil pointer dereference");
  if (!schema.Types.has(typeName(typ))) throw errorPos(typ.Position, `Undefined type ${typeName(typ)}.`);
}

function validateArgs(
  schema: Schema,
  args: ArgumentDefinition[] | null,
  current: DirectiveDefinition | null,
): void {
  for (const arg of args ?? []) {
    validateName(arg.Position, arg.Name);
    validateTypeRef(schema, arg.Type);
    const def = schema.Types.get(typeName(arg.Type))!;
    if (!isInputType(def)) {
      throw errorPos(
        arg.Position,
        `cannot use ${typeString(arg.Type)} as argument ${arg.Name} because ${def.Kind} is not a valid input type`,
      );
    }
    validateDirectives(schema, arg.Directives, "ARGUMENT_DEFINITION", current);
  }
}

function validateDirectives(
  schema: Schema,
  dirs: Directive[] | null,
  location: string,
  current: DirectiveDefinition | null,
): void {
  for (const dir of dirs ?? []) {
    validateName(dir.Position, dir.Name);
    if (current && dir.Name === current.Name) {
      throw errorPos(dir.Position, `Directive ${current.Name} cannot refer to itself.`);
    }
    const def = schema.Directives.get(dir.Name);
    if (!def) throw errorPos(dir.Position, `Undefined directive ${dir.Name}.`);
    if (!(def.Locations ?? []).includes(location)) {
      throw errorPos(dir.Position, `Directive ${dir.Name} is not applicable on ${location}.`);
    }
    dir.Definition = def;
  }
}

const kindList = (...kinds: string[]): string => kinds.join(", ");
const quoteName = (s: string): string => JSON.stringify(s);

function validateDefinition(schema: Schema, def: Definition): void {
  for (const field of def.Fields ?? []) {
    validateName(field.Position, field.Name);
    validateTypeRef(schema, field.Type);
    validateArgs(schema, field.Arguments, null);
    const loc = def.Kind === "INPUT_OBJECT" ? "INPUT_FIELD_DEFINITION" : "FIELD_DEFINITION";
    validateDirectives(schema, field.Directives, loc, null);
  }
  for (const typ of def.Types ?? []) {
    const typDef = schema.Types.get(typ);
    if (!typDef) throw errorPos(def.Position, `Undefined type ${quoteName(typ)}.`);
    if (typDef.Kind !== "OBJECT") {
      throw errorPos(def.Position, `${def.Kind} type ${quoteName(typ)} must be ${kindList("OBJECT")}.`);
    }
  }
  for (const intf of def.Interfaces ?? []) validateImplements(schema, def, intf);
  switch (def.Kind) {
    case "OBJECT":
    case "INTERFACE":
      if (!def.Fields?.length)
        throw errorPos(def.Position, `${def.Kind} ${def.Name}: must define one or more fields.`);
      for (const field of def.Fields) {
        const typ = schema.Types.get(typeName(field.Type));
        if (typ && !["SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM"].includes(typ.Kind)) {
          throw errorPos(
            field.Position,
            `${def.Kind} ${def.Name}: field must be one of ${kindList("SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM")}.`,
          );
        }
      }
      break;
    case "ENUM":
      if (!def.EnumValues?.length) {
        throw errorPos(def.Position, `${def.Kind} ${def.Name}: must define one or more unique enum values.`);
      }
      for (const value of def.EnumValues) {
        if (value.Name === "true" || value.Name === "false" || value.Name === "null") {
          throw errorPos(def.Position, `${def.Kind} ${def.Name}: non-enum value ${value.Name}.`);
        }
      }
      break;
    case "INPUT_OBJECT":
      if (!def.Fields?.length) {
        throw errorPos(def.Position, `${def.Kind} ${def.Name}: must define one or more input fields.`);
      }
      for (const field of def.Fields) {
        const typ = schema.Types.get(typeName(field.Type));
        if (typ && !isInputType(typ)) {
          throw errorPos(
            field.Position,
            `${typ.Kind} ${field.Name}: field must be one of ${kindList("SCALAR", "ENUM", "INPUT_OBJECT")}.`,
          );
        }
      }
      break;
  }
  const fields = def.Fields ?? [];
  for (let i = 0; i < fields.length; i++) {
    for (const f2 of fields.slice(i + 1)) {
      if (fields[i]!.Name === f2.Name)
        throw errorPos(f2.Position, `Field ${def.Name}.${f2.Name} can only be defined once.`);
    }
  }
  if (!def.BuiltIn) validateName(def.Position, def.Name);
  validateDirectives(schema, def.Directives, def.Kind, null);
}

function validateImplements(schema: Schema, def: Definition, intfName: string): void {
  const intf = schema.Types.get(intfName);
  if (!intf) throw errorPos(def.Position, `Undefined type ${quoteName(intfName)}.`);
  if (intf.Kind !== "INTERFACE")
    throw errorPos(def.Position, `${quoteName(intfName)} is a non interface type ${intf.Kind}.`);
  for (const required of intf.Fields ?? []) {
    const found = forName(def.Fields, required.Name);
    if (!found) {
      throw errorPos(
        def.Position,
        `For ${def.Name} to implement ${intf.Name} it must have a field called ${required.Name}.`,
      );
    }
    if (!isCovariant(schema, required.Type, found.Type)) {
      throw errorPos(
        found.Position,
        `For ${def.Name} to implement ${intf.Name} the field ${required.Name} must have type ${typeString(required.Type)}.`,
      );
    }
    for (const reqArg of required.Arguments ?? []) {
      const foundArg = forName(found.Arguments, reqArg.Name);
      if (!foundArg) {
        throw errorPos(
          found.Position,
          `For ${def.Name} to implement ${intf.Name} the field ${required.Name} must have the same arguments but it is missing ${reqArg.Name}.`,
        );
      }
      if (!isCompatible(reqArg.Type, foundArg.Type)) {
        throw errorPos(
          foundArg.Position,
          `For ${def.Name} to implement ${intf.Name} the field ${required.Name} must have the same arguments but ${reqArg.Name} has the wrong type.`,
        );
      }
    }
    for (const arg of found.Arguments ?? []) {
      if (!forName(required.Arguments, arg.Name) && arg.Type?.NonNull && arg.DefaultValue === null) {
        throw errorPos(
          arg.Position,
          `For ${def.Name} to implement ${intf.Name} any additional arguments on ${found.Name} must be optional or have a default value but ${arg.Name} is required.`,
        );
      }
    }
  }
  for (const transitive of intf.Interfaces ?? []) {
    if (!(def.Interfaces ?? []).includes(transitive)) {
      if (transitive === def.Name) {
        throw errorPos(
          def.Position,
          `Type ${def.Name} cannot implement ${intfName} because it would create a circular reference.`,
        );
      }
      throw errorPos(
        def.Position,
        `Type ${def.Name} must implement ${transitive} because it is implemented by ${intfName}.`,
      );
    }
  }
}

function isCovariant(schema: Schema, required: Type | null, actual: Type | null): boolean {
  if (!required || !actual) return false;
  if (required.NonNull && !actual.NonNull) return false;
  if (required.NamedType !== "") {
    if (required.NamedType === actual.NamedType) return true;
    return (schema.PossibleTypes.get(required.NamedType) ?? []).some((pt) => pt?.Name === actual.NamedType);
  }
  if (required.Elem && !actual.Elem) return false;
  return isCovariant(schema, required.Elem, actual.Elem);
}

/** Type.IsCompatible */
function isCompatible(t: Type | null, other: Type | null): boolean {
  if (!t || !other) return false;
  if (t.NamedType !== other.NamedType) return false;
  if (t.Elem && !other.Elem) return false;
  if (t.Elem && !isCompatible(t.Elem, other.Elem)) return false;
  if (other.NonNull) return t.NonNull;
  return true;
}

// ---- query validation: walker ----

type Obs<T> = ((w: Walker, x: T) => void)[];
interface Events {
  operation: Obs<OperationDefinition>;
  field: Obs<Field>;
  fragment: Obs<FragmentDefinition>;
  inlineFragment: Obs<InlineFragment>;
  fragmentSpread: Obs<FragmentSpread>;
  directive: Obs<Directive>;
  directiveList: Obs<Directive[] | null>;
  value: Obs<Value>;
  variable: Obs<VariableDefinition>;
}

const TYPENAME_DEF = (): ReturnType<typeof newFieldDefinition> => {
  const d = newFieldDefinition();
  d.Name = "__typename";
  d.Type = { ...newType(), NamedType: "String" };
  return d;
};

class Walker {
  currentOperation: OperationDefinition | null = null;
  private validatedFragmentSpreads = new Set<string>();

  constructor(
    readonly schema: Schema,
    readonly document: QueryDocument,
    private readonly ev: Events,
  ) {}

  walk(): void {
    for (const op of this.document.Operations ?? []) {
      this.validatedFragmentSpreads = new Set();
      this.walkOperation(op);
    }
    for (const frag of this.document.Fragments ?? []) {
      this.validatedFragmentSpreads = new Set();
      this.walkFragment(frag);
    }
  }

  fragmentForName(name: string): FragmentDefinition | null {
    return forName(this.document.Fragments, name);
  }

  private walkOperation(op: OperationDefinition): void {
    this.currentOperation = op;
    for (const v of op.VariableDefinitions ?? []) {
      v.Definition = this.schema.Types.get(typeName(v.Type)) ?? null;
      for (const f of this.ev.variable) f(this, v);
      if (v.DefaultValue) {
        v.DefaultValue.ExpectedType = v.Type;
        v.DefaultValue.Definition = this.schema.Types.get(typeName(v.Type)) ?? null;
      }
    }
    let def: Definition | null = null;
    let loc = "";
    switch (op.Operation) {
      case "query":
      case "":
        def = this.schema.Query;
        loc = "QUERY";
        break;
      case "mutation":
        def = this.schema.Mutation;
        loc = "MUTATION";
        break;
      case "subscription":
        def = this.schema.Subscription;
        loc = "SUBSCRIPTION";
        break;
    }
    for (const v of op.VariableDefinitions ?? []) {
      if (v.DefaultValue) this.walkValue(v.DefaultValue);
      this.walkDirectives(v.Definition, v.Directives, "VARIABLE_DEFINITION");
    }
    this.walkDirectives(def, op.Directives, loc);
    this.walkSelectionSet(def, op.SelectionSet);
    for (const f of this.ev.operation) f(this, op);
    this.currentOperation = null;
  }

  private walkFragment(frag: FragmentDefinition): void {
    const def = this.schema.Types.get(frag.TypeCondition) ?? null;
    frag.Definition = def;
    this.walkDirectives(def, frag.Directives, "FRAGMENT_DEFINITION");
    this.walkSelectionSet(def, frag.SelectionSet);
    for (const f of this.ev.fragment) f(this, frag);
  }

  private walkDirectives(parent: Definition | null, directives: Directive[] | null, location: string): void {
    for (const dir of directives ?? []) {
      const def = this.schema.Directives.get(dir.Name) ?? null;
      dir.Definition = def;
      dir.ParentDefinition = parent;
      dir.Location = location;
      for (const arg of dir.Arguments ?? [])
        this.walkArgument(def ? forName(def.Arguments, arg.Name) : null, arg);
      for (const f of this.ev.directive) f(this, dir);
    }
    for (const f of this.ev.directiveList) f(this, directives);
  }

  private walkValue(value: Value): void {
    if (value.Kind === VK.Variable && this.currentOperation) {
      value.VariableDefinition =
        this.currentOperation.VariableDefinitions?.find((v) => v.Variable === value.Raw) ?? null;
      if (value.VariableDefinition) value.VariableDefinition.Used = true;
    }
    if (value.Kind === VK.ObjectValue) {
      for (const child of value.Children ?? []) {
        if (value.Definition) {
          const fieldDef = forName(value.Definition.Fields, child.Name);
          if (fieldDef && child.Value) {
            child.Value.ExpectedType = fieldDef.Type;
            child.Value.ExpectedTypeHasDefault =
              fieldDef.DefaultValue !== null && fieldDef.DefaultValue.Kind !== VK.NullValue;
            child.Value.Definition = this.schema.Types.get(typeName(fieldDef.Type)) ?? null;
          }
        }
        if (child.Value) this.walkValue(child.Value);
      }
    }
    if (value.Kind === VK.ListValue) {
      for (const child of value.Children ?? []) {
        if (value.ExpectedType?.Elem && child.Value) {
          child.Value.ExpectedType = value.ExpectedType.Elem;
          child.Value.Definition = value.Definition;
        }
        if (child.Value) this.walkValue(child.Value);
      }
    }
    for (const f of this.ev.value) f(this, value);
  }

  private walkArgument(argDef: ArgumentDefinition | null, arg: Argument): void {
    if (!arg.Value) throw nilDeref();
    if (argDef) {
      arg.Value.ExpectedType = argDef.Type;
      arg.Value.ExpectedTypeHasDefault =
        argDef.DefaultValue !== null && argDef.DefaultValue.Kind !== VK.NullValue;
      arg.Value.Definition = this.schema.Types.get(typeName(argDef.Type)) ?? null;
    }
    this.walkValue(arg.Value);
  }

  private walkSelectionSet(parent: Definition | null, set: Selection[] | null): void {
    for (const child of set ?? []) this.walkSelection(parent, child);
  }

  private walkSelection(parent: Definition | null, it: Selection): void {
    switch (it.$kind) {
      case "Field": {
        let def = null;
        if (it.Name === "__typename") def = TYPENAME_DEF();
        else if (parent) def = forName(parent.Fields, it.Name);
        it.Definition = def;
        it.ObjectDefinition = parent;
        const next = def ? (this.schema.Types.get(typeName(def.Type)) ?? null) : null;
        for (const arg of it.Arguments ?? [])
          this.walkArgument(def ? forName(def.Arguments, arg.Name) : null, arg);
        this.walkDirectives(next, it.Directives, "FIELD");
        this.walkSelectionSet(next, it.SelectionSet);
        for (const f of this.ev.field) f(this, it);
        return;
      }
      case "InlineFragment": {
        it.ObjectDefinition = parent;
        const next = it.TypeCondition !== "" ? (this.schema.Types.get(it.TypeCondition) ?? null) : parent;
        this.walkDirectives(next, it.Directives, "INLINE_FRAGMENT");
        this.walkSelectionSet(next, it.SelectionSet);
        for (const f of this.ev.inlineFragment) f(this, it);
        return;
      }
      case "FragmentSpread": {
        const def = this.fragmentForName(it.Name);
        it.Definition = def;
        it.ObjectDefinition = parent;
        const next = def ? (this.schema.Types.get(def.TypeCondition) ?? null) : null;
        this.walkDirectives(next, it.Directives, "FRAGMENT_SPREAD");
        if (def && !this.validatedFragmentSpreads.has(def.Name)) {
          // prevents infinite recursion through fragment cycles
          this.validatedFragmentSpreads.add(def.Name);
          this.walkSelectionSet(next, def.SelectionSet);
        }
        for (const f of this.ev.fragmentSpread) f(this, it);
      }
    }
  }
}

const nilDeref = (): GQLError =>
  new GQLError("runtime error: invalid memory address or nil pointer dereference");

// ---- query validation: rules ----

type AddError = (msg: string, pos?: Position | null) => void;

function lexicalDistance(a: string, b: string): number {
  if (a === b) return 0;
  a = a.toLowerCase();
  b = b.toLowerCase();
  if (a === b) return 1;
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

function suggestionList(input: string, options: string[]): string[] {
  const threshold = Math.max(Math.floor(Buffer.byteLength(input) * 0.4) + 1, 1);
  const dist = new Map<string, number>();
  const results: string[] = [];
  for (const o of options) {
    const d = lexicalDistance(input, o);
    if (d <= threshold) {
      results.push(o);
      dist.set(o, d);
    }
  }
  return results.sort((p, q) => dist.get(p)! - dist.get(q)!);
}

function orList(items: string[]): string {
  items = items.slice(0, 5);
  if (items.length === 2) return items[0] + " or " + items[1];
  return items.map((x, i) => (i === 0 ? x : (i === items.length - 1 ? ", or " : ", ") + x)).join("");
}
const quotedOrList = (items: string[]): string => orList(items.map((x) => `"${x}"`));
const suggestQuoted = (prefix: string, typed: string, options: string[]): string => {
  const s = suggestionList(typed, options);
  return s.length ? ` ${prefix} ${quotedOrList(s)}?` : "";
};
const suggestUnquoted = (prefix: string, typed: string, options: string[]): string => {
  const s = suggestionList(typed, options);
  return s.length ? ` ${prefix} ${orList(s)}?` : "";
};

function possibleTypes(schema: Schema, def: Definition): Definition[] {
  return (schema.PossibleTypes.get(def.Name) ?? []).filter((d) => d);
}

type Rule = (ev: Events, addError: AddError) => void;

const fieldsOnCorrectType: Rule = (ev, addError) => {
  ev.field.push((w, field) => {
    if (!field.ObjectDefinition || field.Definition) return;
    let message = `Cannot query field "${field.Name}" on type "${field.ObjectDefinition.Name}".`;
    const typeNames = suggestedTypeNames(w.schema, field.ObjectDefinition, field.Name);
    if (typeNames.length) message += ` Did you mean to use an inline fragment on ${quotedOrList(typeNames)}?`;
    else {
      const parent = field.ObjectDefinition;
      if (parent.Kind === "OBJECT" || parent.Kind === "INTERFACE") {
        const names = suggestionList(
          field.Name,
          (parent.Fields ?? []).map((f) => f.Name),
        );
        if (names.length) message += ` Did you mean ${quotedOrList(names)}?`;
      }
    }
    addError(message, field.Position);
  });
};

function suggestedTypeNames(schema: Schema, parent: Definition, name: string): string[] {
  if (!isAbstractType(parent)) return [];
  const objects: string[] = [];
  const interfaces: string[] = [];
  const usage = new Map<string, number>();
  for (const pt of possibleTypes(schema, parent)) {
    if (!forName(pt.Fields, name)) continue;
    objects.push(pt.Name);
    for (const pi of pt.Interfaces ?? []) {
      const intf = schema.Types.get(pi);
      if (intf && forName(intf.Fields, name)) {
        if (!usage.get(pi)) interfaces.push(pi);
        usage.set(pi, (usage.get(pi) ?? 0) + 1);
      }
    }
  }
  interfaces.sort((a, b) => usage.get(b)! - usage.get(a)!);
  return [...interfaces, ...objects];
}

const fragmentsOnCompositeTypes: Rule = (ev, addError) => {
  ev.inlineFragment.push((w, f) => {
    const t = w.schema.Types.get(f.TypeCondition);
    if (!t || isCompositeType(t)) return;
    addError(`Fragment cannot condition on non composite type "${f.TypeCondition}".`, f.Position);
  });
  ev.fragment.push((_w, f) => {
    if (!f.Definition || f.TypeCondition === "" || isCompositeType(f.Definition)) return;
    addError(`Fragment "${f.Name}" cannot condition on non composite type "${f.TypeCondition}".`, f.Position);
  });
};

const knownArgumentNames: Rule = (ev, addError) => {
  ev.field.push((_w, field) => {
    if (!field.Definition || !field.ObjectDefinition) return;
    for (const arg of field.Arguments ?? []) {
      if (forName(field.Definition.Arguments, arg.Name)) continue;
      const names = (field.Definition.Arguments ?? []).map((a) => a.Name);
      addError(
        `Unknown argument "${arg.Name}" on field "${field.ObjectDefinition.Name}.${field.Name}".` +
          suggestQuoted("Did you mean", arg.Name, names),
        field.Position,
      );
    }
  });
  ev.directive.push((_w, dir) => {
    if (!dir.Definition) return;
    for (const arg of dir.Arguments ?? []) {
      if (forName(dir.Definition.Arguments, arg.Name)) continue;
      const names = (dir.Definition.Arguments ?? []).map((a) => a.Name);
      addError(
        `Unknown argument "${arg.Name}" on directive "@${dir.Name}".` +
          suggestQuoted("Did you mean", arg.Name, names),
        dir.Position,
      );
    }
  });
};

const knownDirectives: Rule = (ev, addError) => {
  ev.directive.push((_w, dir) => {
    if (!dir.Definition) {
      addError(`Unknown directive "@${dir.Name}".`, dir.Position);
      return;
    }
    if ((dir.Definition.Locations ?? []).includes(dir.Location)) return;
    addError(`Directive "@${dir.Name}" may not be used on ${dir.Location}.`, dir.Position);
  });
};

const knownFragmentNames: Rule = (ev, addError) => {
  ev.fragmentSpread.push((_w, spread) => {
    if (!spread.Definition) addError(`Unknown fragment "${spread.Name}".`, spread.Position);
  });
};

const knownRootType: Rule = (ev, addError) => {
  ev.operation.push((w, op) => {
    const def =
      op.Operation === "query" || op.Operation === ""
        ? w.schema.Query
        : op.Operation === "mutation"
          ? w.schema.Mutation
          : op.Operation === "subscription"
            ? w.schema.Subscription
            : null;
    if (!def) addError(`Schema does not support operation type "${op.Operation}"`, op.Position);
  });
};

const knownTypeNames: Rule = (ev, addError) => {
  ev.operation.push((w, op) => {
    for (const v of op.VariableDefinitions ?? []) {
      const name = typeName(v.Type);
      if (!w.schema.Types.has(name)) addError(`Unknown type "${name}".`, v.Position);
    }
  });
  ev.inlineFragment.push((w, f) => {
    if (f.TypeCondition === "" || w.schema.Types.has(f.TypeCondition)) return;
    addError(`Unknown type "${f.TypeCondition}".`, f.Position);
  });
  ev.fragment.push((w, f) => {
    if (w.schema.Types.has(f.TypeCondition)) return;
    const names = [...w.schema.Types.values()].map((t) => t.Name);
    addError(
      `Unknown type "${f.TypeCondition}".` + suggestQuoted("Did you mean", f.TypeCondition, names),
      f.Position,
    );
  });
};

const loneAnonymousOperation: Rule = (ev, addError) => {
  ev.operation.push((w, op) => {
    if (op.Name === "" && (w.document.Operations?.length ?? 0) > 1) {
      addError("This anonymous operation must be the only defined operation.", op.Position);
    }
  });
};

const maxIntrospectionDepth: Rule = (ev, addError) => {
  const LIST_FIELDS = new Set(["fields", "interfaces", "possibleTypes", "inputFields"]);
  const checkField = (field: Field, visited: Set<string>, depth: number): boolean => {
    if (LIST_FIELDS.has(field.Name) && ++depth >= 3) return true;
    return checkSet(field.SelectionSet, visited, depth);
  };
  const checkSet = (set: Selection[] | null, visited: Set<string>, depth: number): boolean => {
    for (const child of set ?? []) {
      if (child.$kind === "Field" && checkField(child, visited, depth)) return true;
      if (child.$kind === "FragmentSpread") {
        if (visited.has(child.Name) || !child.Definition) continue;
        visited.add(child.Name);
        const hit = checkSet(child.Definition.SelectionSet, visited, depth);
        visited.delete(child.Name);
        if (hit) return true;
      }
      if (child.$kind === "InlineFragment" && checkSet(child.SelectionSet, visited, depth)) return true;
    }
    return false;
  };
  ev.field.push((_w, field) => {
    if ((field.Name === "__schema" || field.Name === "__type") && checkField(field, new Set(), 0)) {
      addError("Maximum introspection depth exceeded", field.Position);
    }
  });
};

function fragmentSpreads(set: Selection[] | null): FragmentSpread[] {
  const spreads: FragmentSpread[] = [];
  const toVisit: (Selection[] | null)[] = [set];
  while (toVisit.length) {
    for (const sel of toVisit.pop() ?? []) {
      if (sel.$kind === "FragmentSpread") spreads.push(sel);
      else toVisit.push(sel.SelectionSet);
    }
  }
  return spreads;
}

const noFragmentCycles: Rule = (ev, addError) => {
  const visited = new Set<string>();
  ev.fragment.push((w, fragment) => {
    const spreadPath: FragmentSpread[] = [];
    const indexByName = new Map<string, number>();
    const recursive = (frag: FragmentDefinition): void => {
      if (visited.has(frag.Name)) return;
      visited.add(frag.Name);
      const spreads = fragmentSpreads(frag.SelectionSet);
      if (!spreads.length) return;
      indexByName.set(frag.Name, spreadPath.length);
      for (const spread of spreads) {
        const cycleIndex = indexByName.get(spread.Name);
        spreadPath.push(spread);
        if (cycleIndex === undefined) {
          const next = w.fragmentForName(spread.Name);
          if (next) recursive(next);
        } else {
          const names = spreadPath.slice(cycleIndex, spreadPath.length - 1).map((s) => `"${s.Name}"`);
          const via = names.length ? ` via ${names.join(", ")}` : "";
          addError(`Cannot spread fragment "${spread.Name}" within itself${via}.`, spread.Position);
        }
        spreadPath.pop();
      }
      indexByName.delete(frag.Name);
    };
    recursive(fragment);
  });
};

const noUndefinedVariables: Rule = (ev, addError) => {
  ev.value.push((w, value) => {
    if (!w.currentOperation || value.Kind !== VK.Variable || value.VariableDefinition) return;
    if (w.currentOperation.Name !== "") {
      addError(
        `Variable "${valueString(value)}" is not defined by operation "${w.currentOperation.Name}".`,
        value.Position,
      );
    } else addError(`Variable "${valueString(value)}" is not defined.`, value.Position);
  });
};

const noUnusedFragments: Rule = (ev, addError) => {
  let inFragmentDefinition = false;
  const used = new Set<string>();
  ev.fragmentSpread.push((_w, spread) => {
    if (!inFragmentDefinition) used.add(spread.Name);
  });
  ev.fragment.push((_w, frag) => {
    inFragmentDefinition = true;
    if (!used.has(frag.Name)) addError(`Fragment "${frag.Name}" is never used.`, frag.Position);
  });
};

const noUnusedVariables: Rule = (ev, addError) => {
  ev.operation.push((_w, op) => {
    for (const v of op.VariableDefinitions ?? []) {
      if (v.Used) continue;
      if (op.Name !== "")
        addError(`Variable "$${v.Variable}" is never used in operation "${op.Name}".`, v.Position);
      else addError(`Variable "$${v.Variable}" is never used.`, v.Position);
    }
  });
};

// -- OverlappingFieldsCanBeMerged --

interface Conflict {
  message: string;
  responseName: string;
  sub: Conflict[];
  position: Position | null;
}

class FieldsMap {
  seq: string[] = [];
  data = new Map<string, Field[]>();
  push(name: string, f: Field): void {
    const list = this.data.get(name);
    if (list) list.push(f);
    else {
      this.seq.push(name);
      this.data.set(name, [f]);
    }
  }
}

function fieldsAndFragments(set: Selection[] | null): [FieldsMap, FragmentSpread[]] {
  const fields = new FieldsMap();
  const spreads: FragmentSpread[] = [];
  const walk = (s: Selection[] | null): void => {
    for (const sel of s ?? []) {
      if (sel.$kind === "Field") fields.push(sel.Alias !== "" ? sel.Alias : sel.Name, sel);
      else if (sel.$kind === "InlineFragment") walk(sel.SelectionSet);
      else spreads.push(sel);
    }
  };
  walk(set);
  return [fields, spreads];
}

function sameFieldsMap(a: FieldsMap, b: FieldsMap): boolean {
  if (a.seq.length !== b.seq.length) return false;
  return a.seq.every((k, i) => {
    if (b.seq[i] !== k) return false;
    const x = a.data.get(k)!;
    const y = b.data.get(k)!;
    return x.length === y.length && x.every((f, j) => f === y[j]);
  });
}

class OverlapManager {
  walker!: Walker;
  private pairs = new Map<string, Map<string, boolean>>();
  private compared = new Set<string>();

  private pairHas(a: string, b: string, exclusive: boolean): boolean {
    const r = this.pairs.get(a)?.get(b);
    if (r === undefined) return false;
    return exclusive ? true : !r;
  }
  private pairAdd(a: string, b: string, exclusive: boolean): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      let m = this.pairs.get(x);
      if (!m) this.pairs.set(x, (m = new Map()));
      m.set(y, exclusive);
    }
  }

  findWithin(set: Selection[] | null): Conflict[] {
    if (!set?.length) return [];
    const [fields, spreads] = fieldsAndFragments(set);
    const out: Conflict[] = [];
    this.collectWithin(out, fields);
    this.compared = new Set();
    spreads.forEach((a, i) => {
      this.betweenFieldsAndFragment(out, false, fields, a);
      for (const b of spreads.slice(i + 1)) this.betweenFragments(out, false, a, b);
    });
    return out;
  }

  private betweenFieldsAndFragment(
    out: Conflict[],
    exclusive: boolean,
    fields: FieldsMap,
    spread: FragmentSpread,
  ): void {
    if (this.compared.has(spread.Name)) return;
    this.compared.add(spread.Name);
    if (!spread.Definition) return;
    const [fieldsB, spreads] = fieldsAndFragments(spread.Definition.SelectionSet);
    if (sameFieldsMap(fields, fieldsB)) return;
    this.between(out, exclusive, fields, fieldsB);
    for (const s of spreads) {
      if (s.Name === spread.Name) continue;
      this.betweenFieldsAndFragment(out, exclusive, fields, s);
    }
  }

  private betweenFragments(
    out: Conflict[],
    exclusive: boolean,
    a0: FragmentSpread,
    b0: FragmentSpread,
  ): void {
    const check = (a: FragmentSpread, b: FragmentSpread): void => {
      if (a.Name === b.Name) return;
      if (this.pairHas(a.Name, b.Name, exclusive)) return;
      this.pairAdd(a.Name, b.Name, exclusive);
      if (!a.Definition || !b.Definition) return;
      const [fa, sa] = fieldsAndFragments(a.Definition.SelectionSet);
      const [fb, sb] = fieldsAndFragments(b.Definition.SelectionSet);
      this.between(out, exclusive, fa, fb);
      for (const s of sb) check(a, s);
      for (const s of sa) check(s, b);
    };
    check(a0, b0);
  }

  private betweenSubSelections(exclusive: boolean, a: Selection[] | null, b: Selection[] | null): Conflict[] {
    const out: Conflict[] = [];
    const [fa, sa] = fieldsAndFragments(a);
    const [fb, sb] = fieldsAndFragments(b);
    this.between(out, exclusive, fa, fb);
    for (const s of sb) {
      this.compared = new Set();
      this.betweenFieldsAndFragment(out, exclusive, fa, s);
    }
    for (const s of sa) {
      this.compared = new Set();
      this.betweenFieldsAndFragment(out, exclusive, fb, s);
    }
    for (const x of sa) for (const y of sb) this.betweenFragments(out, exclusive, x, y);
    return out;
  }

  private collectWithin(out: Conflict[], fields: FieldsMap): void {
    for (const name of fields.seq) {
      const list = fields.data.get(name)!;
      list.forEach((a, i) => {
        for (const b of list.slice(i + 1)) {
          const c = this.findConflict(false, a, b);
          if (c) out.push(c);
        }
      });
    }
  }

  private between(out: Conflict[], exclusive: boolean, a: FieldsMap, b: FieldsMap): void {
    for (const name of a.seq) {
      const listB = b.data.get(name);
      if (!listB) continue;
      for (const fa of a.data.get(name)!) {
        for (const fb of listB) {
          const c = this.findConflict(exclusive, fa, fb);
          if (c) out.push(c);
        }
      }
    }
  }

  private findConflict(parentExclusive: boolean, a: Field, b: Field): Conflict | null {
    if (!a.Definition || !a.ObjectDefinition || !b.Definition || !b.ObjectDefinition) return null;
    const exclusive =
      parentExclusive ||
      (a.ObjectDefinition.Name !== b.ObjectDefinition.Name &&
        a.ObjectDefinition.Kind === "OBJECT" &&
        b.ObjectDefinition.Kind === "OBJECT");
    const responseName = a.Alias !== "" ? a.Alias : a.Name;
    const conflict = (message: string, sub: Conflict[] = []): Conflict => ({
      message,
      responseName,
      sub,
      position: b.Position,
    });
    if (!exclusive) {
      if (a.Name !== b.Name) return conflict(`${a.Name} and ${b.Name} are different fields`);
      if (!sameArguments(a.Arguments, b.Arguments)) return conflict("they have differing arguments");
    }
    if (this.typesConflict(a.Definition.Type, b.Definition.Type)) {
      return conflict(
        `they return conflicting types ${typeString(a.Definition.Type)} and ${typeString(b.Definition.Type)}`,
      );
    }
    const sub = this.betweenSubSelections(exclusive, a.SelectionSet, b.SelectionSet);
    return sub.length ? conflict("", sub) : null;
  }

  private typesConflict(t1: Type | null, t2: Type | null): boolean {
    if (!t1 || !t2) return false;
    if (t1.Elem) return t2.Elem ? this.typesConflict(t1.Elem, t2.Elem) : true;
    if (t2.Elem) return true;
    if (t1.NonNull !== t2.NonNull) return true;
    const d1 = this.walker.schema.Types.get(t1.NamedType);
    const d2 = this.walker.schema.Types.get(t2.NamedType);
    if (d1 && d2 && isLeafType(d1) && isLeafType(d2)) return d1.Name !== d2.Name;
    return false;
  }
}

function sameArguments(a: Argument[] | null, b: Argument[] | null): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((arg1) =>
    y.some(
      (arg2) =>
        arg1.Name === arg2.Name &&
        arg1.Value?.Kind === arg2.Value?.Kind &&
        arg1.Value?.Raw === arg2.Value?.Raw,
    ),
  );
}

function conflictText(c: Conflict): string {
  if (!c.sub.length) return c.message;
  return c.sub.map((s) => `subfields "${s.responseName}" conflict because ${conflictText(s)}`).join(" and ");
}

const overlappingFieldsCanBeMerged: Rule = (ev, addError) => {
  const m = new OverlapManager();
  const report = (conflicts: Conflict[]): void => {
    for (const c of conflicts) {
      addError(
        `Fields "${c.responseName}" conflict because ${conflictText(c)}. Use different aliases on the fields to fetch both if this was intentional.`,
        c.position,
      );
    }
  };
  ev.operation.push((w, op) => {
    m.walker = w;
    report(m.findWithin(op.SelectionSet));
  });
  ev.field.push((w, field) => {
    // Fragments referenced from an operation are checked with it already.
    if (!w.currentOperation) return;
    m.walker = w;
    report(m.findWithin(field.SelectionSet));
  });
  ev.inlineFragment.push((w, f) => {
    m.walker = w;
    report(m.findWithin(f.SelectionSet));
  });
  ev.fragment.push((w, f) => {
    m.walker = w;
    report(m.findWithin(f.SelectionSet));
  });
};

const possibleFragmentSpreads: Rule = (ev, addError) => {
  const validate = (w: Walker, parent: Definition | null, fragmentType: string, emit: () => void): void => {
    if (!parent) return;
    let parents: Definition[];
    if (parent.Kind === "OBJECT") parents = [parent];
    else if (parent.Kind === "INTERFACE" || parent.Kind === "UNION")
      parents = possibleTypes(w.schema, parent);
    else return;
    const fragDef = w.schema.Types.get(fragmentType);
    if (!fragDef || !isCompositeType(fragDef)) return;
    for (const fd of possibleTypes(w.schema, fragDef)) if (parents.some((p) => p.Name === fd.Name)) return;
    emit();
  };
  ev.inlineFragment.push((w, f) =>
    validate(w, f.ObjectDefinition, f.TypeCondition, () =>
      addError(
        `Fragment cannot be spread here as objects of type "${f.ObjectDefinition!.Name}" can never be of type "${f.TypeCondition}".`,
        f.Position,
      ),
    ),
  );
  ev.fragmentSpread.push((w, s) => {
    if (!s.Definition) return;
    const cond = s.Definition.TypeCondition;
    validate(w, s.ObjectDefinition, cond, () =>
      addError(
        `Fragment "${s.Name}" cannot be spread here as objects of type "${s.ObjectDefinition!.Name}" can never be of type "${cond}".`,
        s.Position,
      ),
    );
  });
};

const providedRequiredArguments: Rule = (ev, addError) => {
  ev.field.push((_w, field) => {
    if (!field.Definition) return;
    for (const argDef of field.Definition.Arguments ?? []) {
      if (!argDef.Type?.NonNull || argDef.DefaultValue) continue;
      if ((field.Arguments ?? []).some((a) => a.Name === argDef.Name)) continue;
      addError(
        `Field "${field.Name}" argument "${argDef.Name}" of type "${typeString(argDef.Type)}" is required, but it was not provided.`,
        field.Position,
      );
    }
  });
  ev.directive.push((_w, dir) => {
    if (!dir.Definition) return;
    for (const argDef of dir.Definition.Arguments ?? []) {
      if (!argDef.Type?.NonNull || argDef.DefaultValue) continue;
      if ((dir.Arguments ?? []).some((a) => a.Name === argDef.Name)) continue;
      addError(
        `Directive "@${dir.Definition.Name}" argument "${argDef.Name}" of type "${typeString(argDef.Type)}" is required, but it was not provided.`,
        dir.Position,
      );
    }
  });
};

const scalarLeafs: Rule = (ev, addError) => {
  ev.field.push((w, field) => {
    if (!field.Definition) return;
    const t = w.schema.Types.get(typeName(field.Definition.Type));
    if (!t) return;
    if (isLeafType(t) && field.SelectionSet?.length) {
      addError(
        `Field "${field.Name}" must not have a selection since type "${t.Name}" has no subfields.`,
        field.Position,
      );
    }
    if (!isLeafType(t) && !field.SelectionSet?.length) {
      addError(
        `Field "${field.Name}" of type "${typeString(field.Definition.Type)}" must have a selection of subfields. Did you mean "${field.Name} { ... }"?`,
        field.Position,
      );
    }
  });
};

const singleFieldSubscriptions: Rule = (ev, addError) => {
  ev.operation.push((_w, op) => {
    if (op.Operation !== "subscription" || (op.SelectionSet?.length ?? 0) <= 1) return;
    const name = op.Name !== "" ? `Subscription ${JSON.stringify(op.Name)}` : "Anonymous Subscription";
    addError(`${name} must select only one top level field.`, op.SelectionSet![1]!.Position);
  });
};

const uniqueArgumentNames: Rule = (ev, addError) => {
  const check = (args: Argument[] | null, pos: Position | null): void => {
    const seen = new Set<string>();
    for (const arg of args ?? []) {
      if (seen.has(arg.Name)) addError(`There can be only one argument named "${arg.Name}".`, pos);
      seen.add(arg.Name);
    }
  };
  ev.field.push((_w, f) => check(f.Arguments, f.Position));
  ev.directive.push((_w, d) => check(d.Arguments, d.Position));
};

const uniqueDirectivesPerLocation: Rule = (ev, addError) => {
  ev.directiveList.push((_w, dirs) => {
    const seen = new Set<string>();
    for (const dir of dirs ?? []) {
      if (seen.has(dir.Name) && !dir.Definition?.IsRepeatable) {
        addError(`The directive "@${dir.Name}" can only be used once at this location.`, dir.Position);
      }
      seen.add(dir.Name);
    }
  });
};

const uniqueFragmentNames: Rule = (ev, addError) => {
  const seen = new Set<string>();
  ev.fragment.push((_w, f) => {
    if (seen.has(f.Name)) addError(`There can be only one fragment named "${f.Name}".`, f.Position);
    seen.add(f.Name);
  });
};

const uniqueInputFieldNames: Rule = (ev, addError) => {
  ev.value.push((_w, v) => {
    if (v.Kind !== VK.ObjectValue) return;
    const seen = new Set<string>();
    for (const c of v.Children ?? []) {
      if (seen.has(c.Name)) addError(`There can be only one input field named "${c.Name}".`, c.Position);
      seen.add(c.Name);
    }
  });
};

const uniqueOperationNames: Rule = (ev, addError) => {
  const seen = new Set<string>();
  ev.operation.push((_w, op) => {
    if (seen.has(op.Name)) addError(`There can be only one operation named "${op.Name}".`, op.Position);
    seen.add(op.Name);
  });
};

const uniqueVariableNames: Rule = (ev, addError) => {
  ev.operation.push((_w, op) => {
    const seen = new Set<string>();
    for (const v of op.VariableDefinitions ?? []) {
      if (seen.has(v.Variable))
        addError(`There can be only one variable named "$${v.Variable}".`, v.Position);
      seen.add(v.Variable);
    }
  });
};

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

function unexpectedTypeMessage(v: Value): string {
  const s = valueString(v);
  switch (typeString(v.ExpectedType)) {
    case "Int":
    case "Int!": {
      const n = /^[+-]?\d+$/.test(v.Raw) ? BigInt(v.Raw) : null;
      if (n !== null && (n < INT32_MIN || n > INT32_MAX))
        return `Int cannot represent non 32-bit signed integer value: ${s}`;
      return `Int cannot represent non-integer value: ${s}`;
    }
    case "String":
    case "String!":
    case "[String]":
      return `String cannot represent a non string value: ${s}`;
    case "Boolean":
    case "Boolean!":
      return `Boolean cannot represent a non boolean value: ${s}`;
    case "Float":
    case "Float!":
      return `Float cannot represent non numeric value: ${s}`;
    case "ID":
    case "ID!":
      return `ID cannot represent a non-string and non-integer value: ${s}`;
  }
  if (v.Definition?.Kind === "ENUM")
    return `Enum "${typeString(v.ExpectedType)}" cannot represent non-enum value: ${s}.`;
  return `Expected value of type "${typeString(v.ExpectedType)}", found ${s}.`;
}

/** Whether Value.Value(nil) fails: the literal does not fit its Go type. */
function literalFails(v: Value): boolean {
  switch (v.Kind) {
    case VK.IntValue: {
      if (!/^[+-]?\d+$/.test(v.Raw)) return true;
      const n = BigInt(v.Raw);
      return n < -(2n ** 63n) || n > 2n ** 63n - 1n;
    }
    case VK.FloatValue:
      return !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.Raw) || !Number.isFinite(Number(v.Raw));
    case VK.BooleanValue:
      return !["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].includes(
        v.Raw,
      );
  }
  return false;
}

const valuesOfCorrectType: Rule = (ev, addError) => {
  ev.value.push((_w, value) => {
    const def = value.Definition;
    const expected = value.ExpectedType;
    if (!def || !expected) return;
    const at = value.Position;
    const unexpected = (): void => addError(unexpectedTypeMessage(value), at);
    if (value.Kind === VK.NullValue && expected.NonNull) {
      addError(`Expected value of type "${typeString(expected)}", found ${valueString(value)}.`, at);
    }
    if (def.Kind === "SCALAR" && !["Int", "Float", "String", "Boolean", "ID"].includes(def.Name)) return;
    const enums = def.Kind === "ENUM" ? (def.EnumValues ?? []).map((e) => e.Name) : [];
    if (literalFails(value)) unexpected();
    switch (value.Kind) {
      case VK.NullValue:
        return;
      case VK.ListValue:
        if (!expected.Elem) unexpected();
        return;
      case VK.IntValue:
        if (!["Int", "Float", "ID"].includes(def.Name)) unexpected();
        return;
      case VK.FloatValue:
        if (def.Name !== "Float") unexpected();
        return;
      case VK.StringValue:
      case VK.BlockValue:
        if (def.Kind === "ENUM") {
          addError(
            `Enum "${typeString(expected)}" cannot represent non-enum value: ${valueString(value)}.` +
              suggestQuoted("Did you mean the enum value", value.Raw, enums),
            at,
          );
        } else if (!["String", "ID"].includes(def.Name)) unexpected();
        return;
      case VK.EnumValue:
        if (def.Kind !== "ENUM") {
          addError(
            unexpectedTypeMessage(value) + suggestUnquoted("Did you mean the enum value", value.Raw, enums),
            at,
          );
        } else if (!forName(def.EnumValues, value.Raw)) {
          addError(
            `Value "${valueString(value)}" does not exist in "${typeString(expected)}" enum.` +
              suggestQuoted("Did you mean the enum value", value.Raw, enums),
            at,
          );
        }
        return;
      case VK.BooleanValue:
        if (def.Name !== "Boolean") unexpected();
        return;
      case VK.ObjectValue:
        for (const field of def.Fields ?? []) {
          if (field.Type?.NonNull && !forName(value.Children, field.Name) && !field.DefaultValue) {
            addError(
              `Field "${def.Name}.${field.Name}" of required type "${typeString(field.Type)}" was not provided.`,
              at,
            );
          }
        }
        for (const child of value.Children ?? []) {
          if (!forName(def.Fields, child.Name)) {
            const names = (def.Fields ?? []).map((f) => f.Name);
            addError(
              `Field "${child.Name}" is not defined by type "${def.Name}".` +
                suggestQuoted("Did you mean", child.Name, names),
              child.Position,
            );
          }
        }
    }
  });
};

const variablesAreInputTypes: Rule = (ev, addError) => {
  ev.operation.push((_w, op) => {
    for (const v of op.VariableDefinitions ?? []) {
      if (!v.Definition || isInputType(v.Definition)) continue;
      addError(`Variable "$${v.Variable}" cannot be non-input type "${typeString(v.Type)}".`, v.Position);
    }
  });
};

const variablesInAllowedPosition: Rule = (ev, addError) => {
  ev.value.push((w, value) => {
    const varDef = value.VariableDefinition;
    if (value.Kind !== VK.Variable || !value.ExpectedType || !varDef || !w.currentOperation) return;
    let expected = value.ExpectedType;
    // A default (on the variable or at the location) makes a nullable variable acceptable.
    const varHasDefault = varDef.DefaultValue !== null && varDef.DefaultValue.Kind !== VK.NullValue;
    if ((varHasDefault || value.ExpectedTypeHasDefault) && expected.NonNull)
      expected = { ...expected, NonNull: false };
    if (!isCompatible(varDef.Type, expected)) {
      addError(
        `Variable "${valueString(value)}" of type "${typeString(varDef.Type)}" used in position expecting type "${typeString(value.ExpectedType)}".`,
        value.Position,
      );
    }
  });
};

// gqlparser runs its rules sorted by name; the first error reported depends on it.
const RULES: Rule[] = [
  fieldsOnCorrectType,
  fragmentsOnCompositeTypes,
  knownArgumentNames,
  knownDirectives,
  knownFragmentNames,
  knownRootType,
  knownTypeNames,
  loneAnonymousOperation,
  maxIntrospectionDepth,
  noFragmentCycles,
  noUndefinedVariables,
  noUnusedFragments,
  noUnusedVariables,
  overlappingFieldsCanBeMerged,
  possibleFragmentSpreads,
  providedRequiredArguments,
  scalarLeafs,
  singleFieldSubscriptions,
  uniqueArgumentNames,
  uniqueDirectivesPerLocation,
  uniqueFragmentNames,
  uniqueInputFieldNames,
  uniqueOperationNames,
  uniqueVariableNames,
  valuesOfCorrectType,
  variablesAreInputTypes,
  variablesInAllowedPosition,
];

/** validator.Validate: every error, in the order gqlparser reports them. */
export function validateQuery(schema: Schema, doc: QueryDocument): GQLError[] {
  const errors: GQLError[] = [];
  const ev: Events = {
    operation: [],
    field: [],
    fragment: [],
    inlineFragment: [],
    fragmentSpread: [],
    directive: [],
    directiveList: [],
    value: [],
    variable: [],
  };
  const addError: AddError = (msg, pos) => {
    errors.push(pos ? new GQLError(msg, pos.Line, pos.Column, pos.Src?.Name ?? "") : new GQLError(msg));
  };
  for (const rule of RULES) rule(ev, addError);
  new Walker(schema, doc, ev).walk();
  return errors;
}
