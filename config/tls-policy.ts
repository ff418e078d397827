/** The TLS every front end (FTPS, HTTPS) offers: TLS 1.2 or later, and only the suites below for TLS 1.2. */
/**
 * TLS 1.2 suites: forward-secret key exchange with an AEAD cipher only (no CBC with SHA-1 or SHA-2 MACs, which the
 * default list still has), for an ECDSA certificate (the generated one) or an RSA one. TLS 1.3 keeps Node's suites,
 * all AEAD: with no `TLS_` entry here, Node leaves them as they are.
 */
const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Options for tls.createServer / tls.createSecureContext. */
export const TLS_POLICY = { minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS } as const;
