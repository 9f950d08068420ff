// Reference SigV4 signatures from the official AWS SDK for JavaScript v3 signer
// (@smithy/signature-v4 with @smithy/hash-node), for tests/unit/sigv4_test.cpp.
//
// stdin: JSON array of cases {method, host, key (raw object path without leading '/'), query
// {name: raw value}, headers {name: value}, payloadHash, region, accessKeyId, secretAccessKey,
// sessionToken?, date (ISO 8601)}. stdout: JSON array of Authorization header values.
//
// The path is encoded the way the SDK's S3 client serialises a greedy {Key+} label
// (extendedEncodeURIComponent per segment, '/' kept) and signed with uriEscapePath: false, as the
// S3 client configures the signer.
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';

const extendedEncodeURIComponent = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const out = [];
for (const c of cases) {
  const signer = new SignatureV4({
    service: 's3',
    region: c.region,
    credentials: {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
    },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: true,
  });
  const path = '/' + c.key.split('/').map(extendedEncodeURIComponent).join('/');
  const req = new HttpRequest({
    method: c.method,
    protocol: 'https:',
    hostname: c.host,
    path,
    query: c.query,
    headers: { host: c.host, 'x-amz-content-sha256': c.payloadHash, ...c.headers },
  });
  const signed = await signer.sign(req, { signingDate: new Date(c.date) });
  out.push(signed.headers['authorization'] ?? signed.headers['Authorization']);
}
process.stdout.write(JSON.stringify(out));
