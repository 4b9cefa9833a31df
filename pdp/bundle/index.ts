// OPA-format policy bundles: read (directory or bundle.tar.gz), verify (.signatures.json), check
// (roots), compile, write (`portcullis build`), follow a source (watched directory or file, polled
// HTTP URL) with hot reload, and serve (`GET /bundles/{name}`). Knows nothing of the PDP server: it
// activates revisions into anything with an `activate()` (the PDP's PolicyStore).
export { readArchive, writeArchive } from "./archive.js";
export { readDirectory } from "./directory.js";
export { loadBundle, contentRevision, type LoadOptions } from "./load.js";
export { buildBundle, type BuildOptions, type BuiltBundle } from "./build.js";
export { signatureFile, fileList, type SigningOptions } from "./sign.js";
export { verifyBundle, type VerificationConfig } from "./verify.js";
export {
  readKeyFile,
  signingKey,
  verificationKey,
  isSigningAlgorithm,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type BundleKey,
} from "./keys.js";
export { parseManifest, manifestJSON } from "./manifest.js";
export { canonicalText } from "./canonical.js";
export { hashFile } from "./hash.js";
export {
  validateBundles,
  BUNDLE_DEFAULTS,
  type BundleConfig,
  type BundleSource,
  type BundlePolling,
  type ConfigChecker,
} from "./config.js";
export {
  BundleManager,
  bundleEtag,
  type BundleStatus,
  type BundleEvent,
  type ServedBundle,
  type BundleManagerOptions,
} from "./manager.js";
export { BundleSet } from "./bundles.js";
export { HttpPoller, backoffMs, LONG_POLL_CONTENT_TYPE, type HttpPollerOptions } from "./http_poller.js";
export { serveBundle, bundleStatuses, etagMatches, preferWait, type BundleRegistry } from "./serve.js";
export {
  BundleError,
  DEFAULT_LIMITS,
  type BundleErrorKind,
  type BundleFile,
  type BundleLimits,
  type BundleLogger,
  type LoadedBundle,
  type Manifest,
  type RevisionSink,
  type ActivatedPolicy,
  type SignatureInfo,
  type WasmModule,
} from "./types.js";
