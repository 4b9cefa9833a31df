// The dev PKI's names, apart from the code that writes it: a demo segment's config needs them, not the
// certificate machinery (and its several MB of heap in a long-running gateway).
export const DEV_TRUST_DOMAIN = "demo.portcullis";
export const DEV_ISSUER = "https://issuer.demo.portcullis";
export const DEV_AUDIENCE = "payments";
export const DEV_SCOPE = "payments:read payments:write";
export const DEV_DIR = ".portcullis/demo";
