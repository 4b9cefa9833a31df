// Registers every builtin family. One file per family, as OPA's topdown does.
import { registerBuiltins } from "./registry.js";
import { builtins as comparison } from "./comparison.js";
import { builtins as arithmetic } from "./arithmetic.js";
import { builtins as aggregates } from "./aggregates.js";
import { builtins as arrays } from "./arrays.js";
import { builtins as sets } from "./sets.js";
import { builtins as objects } from "./objects.js";
import { builtins as types } from "./types.js";
import { builtins as strings } from "./strings.js";
import { builtins as sprintf } from "./sprintf.js";
import { builtins as json } from "./json.js";
import { builtins as encoding } from "./encoding.js";
import { builtins as regex } from "./regex.js";
import { builtins as glob } from "./glob.js";
import { builtins as time } from "./time.js";
import { builtins as crypto } from "./crypto.js";
import { builtins as jwt } from "./jwt.js";
import { builtins as net } from "./net.js";
import { builtins as semver } from "./semver.js";
import { builtins as units } from "./units.js";
import { builtins as uuid } from "./uuid.js";
import { builtins as rand } from "./rand.js";
import { builtins as graph } from "./graph.js";
import { builtins as aws } from "./aws.js";
import { builtins as template } from "./template.js";
import { builtins as graphql } from "./graphql.js";
import { builtins as runtime } from "./runtime.js";

registerBuiltins([
  ...comparison,
  ...arithmetic,
  ...aggregates,
  ...arrays,
  ...sets,
  ...objects,
  ...types,
  ...strings,
  ...sprintf,
  ...json,
  ...encoding,
  ...regex,
  ...glob,
  ...time,
  ...crypto,
  ...jwt,
  ...net,
  ...semver,
  ...units,
  ...uuid,
  ...rand,
  ...graph,
  ...aws,
  ...template,
  ...graphql,
  ...runtime,
]);

export { getBuiltin, builtinNames, UNSUPPORTED_BUILTINS, BuiltinError } from "./registry.js";
export type { BuiltinDef, BuiltinContext } from "./registry.js";
