// Hand-written WebAssembly modules that speak OPA's Wasm ABI (the exports and imports
// @open-policy-agent/opa-wasm calls), assembled from text with wabt. They stand in for `opa build -t
// wasm` output, which cannot be produced here (no `opa` binary). Values are kept as their JSON text:
// opa_json_parse stores (pointer, length), opa_json_dump copies the text out NUL-terminated — the
// SDK treats value addresses as opaque, so this is enough for it and keeps the module small.
//
// Entrypoints (ids in order):
//   0 test/allow    → {"allow": true, "reason": "constant"}
//   1 test/admin    → true when the input's JSON text contains `"admin":true`, else undefined
//   2 test/data     → the whole `data` document (shows setData reaching the next evaluation)
//   3 test/abort    → calls opa_abort
//   4 test/builtin  → calls builtin 0 (`builtin`, default a name the SDK does not implement)
import wabtInit from "wabt";

export interface AbiModuleOptions {
  /** opa_wasm_abi_version (the SDK accepts 1 only). */
  abi?: number;
  /** opa_wasm_abi_minor_version: ≥ 2 exports opa_eval (the SDK's fast path), below uses eval_ctx. */
  minor?: number;
  /** The name of builtin id 0 in the module's `builtins` map. */
  builtin?: string;
}

export const ENTRYPOINTS = ["test/allow", "test/admin", "test/data", "test/abort", "test/builtin"];
export const ABORT_MESSAGE = "test/abort: policy called opa_abort";

function wat(o: Required<AbiModuleOptions>): string {
  const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const statics: Record<string, [number, string]> = {
    builtins: [16, JSON.stringify({ [o.builtin]: 0 })],
    entrypoints: [128, JSON.stringify(Object.fromEntries(ENTRYPOINTS.map((e, i) => [e, i])))],
    allow: [384, '[{"result":{"allow":true,"reason":"constant"}}]'],
    yes: [512, '[{"result":true}]'],
    none: [544, "[]"],
    prefix: [560, '[{"result":'],
    suffix: [576, "}]"],
    needle: [592, '"admin":true'],
    abort: [640, ABORT_MESSAGE + "\0"],
    unknown: [768, "unknown entrypoint\0"],
  };
  const at = (k: string) => statics[k]![0];
  const len = (k: string) => Buffer.byteLength(statics[k]![1]);
  const data = Object.values(statics)
    .map(([off, s]) => `(data (i32.const ${off}) "${esc(s).replace(/\0/g, "\\00")}")`)
    .join("\n  ");
  const fast =
    o.minor >= 2
      ? `(func (export "opa_eval") (param $reserved i32) (param $ep i32) (param $data i32) (param $in i32)
       (param $inlen i32) (param $heapPtr i32) (param $fmt i32) (result i32)
    (global.set $heap (local.get $heapPtr))
    (call $dump (call $run (local.get $ep) (local.get $data) (local.get $in) (local.get $inlen))))`
      : "";
  return `(module
  (import "env" "memory" (memory 2))
  (import "env" "opa_abort" (func $opa_abort (param i32)))
  (import "env" "opa_builtin0" (func $opa_builtin0 (param i32 i32) (result i32)))
  (global (export "opa_wasm_abi_version") i32 (i32.const ${o.abi}))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const ${o.minor}))
  (global $heap (mut i32) (i32.const 4096))
  ${data}

  (func $malloc (export "opa_malloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32) (local $size i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (local.set $size (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $size))
      (then
        (if (i32.eq (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (local.get $size)) (i32.const 16)) (i32.const 1)))
                    (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $p))
  (func (export "opa_heap_ptr_get") (result i32) (global.get $heap))
  (func (export "opa_heap_ptr_set") (param $p i32) (global.set $heap (local.get $p)))

  (func $mkval (param $p i32) (param $n i32) (result i32)
    (local $v i32)
    (local.set $v (call $malloc (i32.const 8)))
    (i32.store (local.get $v) (local.get $p))
    (i32.store offset=4 (local.get $v) (local.get $n))
    (local.get $v))
  (func $parse (export "opa_json_parse") (param $p i32) (param $n i32) (result i32)
    ;; Empty text is no JSON value: 0, as OPA's parser answers for text it cannot parse.
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (call $mkval (local.get $p) (local.get $n)))
  (export "opa_value_parse" (func $parse))
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l))))
  (func $dump (export "opa_json_dump") (param $v i32) (result i32)
    (local $n i32) (local $out i32)
    (local.set $n (i32.load offset=4 (local.get $v)))
    (local.set $out (call $malloc (i32.add (local.get $n) (i32.const 1))))
    (call $copy (local.get $out) (i32.load (local.get $v)) (local.get $n))
    (i32.store8 (i32.add (local.get $out) (local.get $n)) (i32.const 0))
    (local.get $out))
  (export "opa_value_dump" (func $dump))

  (func (export "builtins") (result i32) (call $mkval (i32.const ${at("builtins")}) (i32.const ${len("builtins")})))
  (func (export "entrypoints") (result i32) (call $mkval (i32.const ${at("entrypoints")}) (i32.const ${len("entrypoints")})))

  (func $contains (param $h i32) (param $hn i32) (param $nd i32) (param $nn i32) (result i32)
    (local $i i32) (local $j i32)
    (if (i32.lt_u (local.get $hn) (local.get $nn)) (then (return (i32.const 0))))
    (loop $outer
      (local.set $j (i32.const 0))
      (block $mismatch
        (loop $inner
          (if (i32.eq (local.get $j) (local.get $nn)) (then (return (i32.const 1))))
          (br_if $mismatch
            (i32.ne (i32.load8_u (i32.add (local.get $h) (i32.add (local.get $i) (local.get $j))))
                    (i32.load8_u (i32.add (local.get $nd) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $inner)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.le_u (local.get $i) (i32.sub (local.get $hn) (local.get $nn)))))
    (i32.const 0))
  (func $wrap (param $v i32) (result i32)
    (local $n i32) (local $out i32)
    (local.set $n (i32.load offset=4 (local.get $v)))
    (local.set $out (call $malloc (i32.add (local.get $n) (i32.const 13))))
    (call $copy (local.get $out) (i32.const ${at("prefix")}) (i32.const 11))
    (call $copy (i32.add (local.get $out) (i32.const 11)) (i32.load (local.get $v)) (local.get $n))
    (call $copy (i32.add (i32.add (local.get $out) (i32.const 11)) (local.get $n)) (i32.const ${at("suffix")}) (i32.const 2))
    (call $mkval (local.get $out) (i32.add (local.get $n) (i32.const 13))))

  ;; One evaluation: the result set's JSON text as a value.
  (func $run (param $ep i32) (param $data i32) (param $in i32) (param $inlen i32) (result i32)
    (if (i32.eq (local.get $ep) (i32.const 0))
      (then (return (call $mkval (i32.const ${at("allow")}) (i32.const ${len("allow")})))))
    (if (i32.eq (local.get $ep) (i32.const 1))
      (then
        (if (call $contains (local.get $in) (local.get $inlen) (i32.const ${at("needle")}) (i32.const ${len("needle")}))
          (then (return (call $mkval (i32.const ${at("yes")}) (i32.const ${len("yes")})))))
        (return (call $mkval (i32.const ${at("none")}) (i32.const ${len("none")})))))
    (if (i32.eq (local.get $ep) (i32.const 2))
      (then (return (call $wrap (local.get $data)))))
    (if (i32.eq (local.get $ep) (i32.const 3))
      (then (call $opa_abort (i32.const ${at("abort")})) (unreachable)))
    (if (i32.eq (local.get $ep) (i32.const 4))
      (then (return (call $wrap (call $opa_builtin0 (i32.const 0) (i32.const 0))))))
    (call $opa_abort (i32.const ${at("unknown")}))
    (unreachable))

  ${fast}

  ;; The evaluation-context ABI (what the SDK uses below minor version 2): input, data, entrypoint, result.
  (func (export "opa_eval_ctx_new") (result i32)
    (local $c i32)
    (local.set $c (call $malloc (i32.const 16)))
    (i32.store (local.get $c) (i32.const 0))
    (i32.store offset=4 (local.get $c) (i32.const 0))
    (i32.store offset=8 (local.get $c) (i32.const 0))
    (i32.store offset=12 (local.get $c) (i32.const 0))
    (local.get $c))
  (func (export "opa_eval_ctx_set_input") (param $c i32) (param $v i32) (i32.store (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_data") (param $c i32) (param $v i32) (i32.store offset=4 (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_entrypoint") (param $c i32) (param $e i32) (i32.store offset=8 (local.get $c) (local.get $e)))
  (func (export "opa_eval_ctx_get_result") (param $c i32) (result i32) (i32.load offset=12 (local.get $c)))
  (func (export "eval") (param $c i32) (result i32)
    (local $in i32) (local $p i32) (local $n i32)
    (local.set $in (i32.load (local.get $c)))
    (if (local.get $in)
      (then
        (local.set $p (i32.load (local.get $in)))
        (local.set $n (i32.load offset=4 (local.get $in)))))
    (i32.store offset=12 (local.get $c)
      (call $run (i32.load offset=8 (local.get $c)) (i32.load offset=4 (local.get $c)) (local.get $p) (local.get $n)))
    (i32.const 0))
)`;
}

/** Assembles a module; the same options give the same bytes. */
export async function abiModule(opts: AbiModuleOptions = {}): Promise<Uint8Array> {
  const o: Required<AbiModuleOptions> = {
    abi: opts.abi ?? 1,
    minor: opts.minor ?? 2,
    builtin: opts.builtin ?? "portcullis.not_provided",
  };
  const wabt = await wabtInit();
  const mod = wabt.parseWat("abi_module.wat", wat(o));
  try {
    mod.resolveNames();
    mod.validate();
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}
