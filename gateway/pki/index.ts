// The dev PKI: certificates (CA, gateway, SVIDs, defective SVIDs), the token issuer and their files.
export * from "./certs.js";
export * from "./dev.js";
export * from "./spiffe.js";
export * from "./tokens.js";
