// The reference verifier: evidence format, appraisal, EAR issuing, config and HTTP server.
export * from "./appraise.js";
export * from "./config.js";
export * from "./evidence.js";
export * from "./init.js";
export * from "./issue.js";
export * from "./server.js";
export * from "./sessions.js";
