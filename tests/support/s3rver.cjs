#!/usr/bin/env node
// s3rver (npm) with S3 conditional writes enforced on PutObject, as AWS S3 does them
// (docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). Plain s3rver ignores
// If-Match / If-None-Match on PUT, which would make the writer protocol's fencing untestable.
// Same command line as node_modules/s3rver/bin/s3rver.js, plus:
//   --no-conditional   plain s3rver behaviour (conditions silently ignored), to test that
//                      ProbeConditionalWrites refuses such a remote.
// Semantics (PutObject only; multipart completion and copies are not covered):
// - If-None-Match: * and the key exists            -> 412 PreconditionFailed
// - If-None-Match with any other value             -> 501 NotImplemented
// - If-Match and If-None-Match together             -> 501 NotImplemented
// - If-Match: <etag> and the key does not exist     -> 404 NoSuchKey
// - If-Match: <etag> and the current ETag differs   -> 412 PreconditionFailed
// The condition is evaluated after authentication (the patched controller runs where the real
// one would). Every PUT and DELETE of one key is serialized (check and write are one step), so
// concurrent conditional writes have exactly one winner; AWS may answer the losers 409
// ConditionalRequestConflict instead of 412, which clients treat alike.
'use strict';

const enforce = !process.argv.includes('--no-conditional');
process.argv = process.argv.filter((a) => a !== '--no-conditional');

if (enforce) {
  const objectCtrl = require('s3rver/lib/controllers/object');
  const S3Error = require('s3rver/lib/models/error');

  const tails = new Map(); // "bucket/key" -> the promise the next request on the key waits for
  async function serialized(id, fn) {
    const prev = tails.get(id) || Promise.resolve();
    let release;
    const mine = new Promise((resolve) => { release = resolve; });
    tails.set(id, mine);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(id) === mine) tails.delete(id);
    }
  }
  const unquote = (etag) => String(etag).trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  const notImplemented = (header) => new S3Error('NotImplemented',
    'A header you provided implies functionality that is not implemented', { Header: header });
  const preconditionFailed = (condition) => new S3Error('PreconditionFailed',
    'At least one of the pre-conditions you specified did not hold', { Condition: condition });

  const putObject = objectCtrl.putObject;
  objectCtrl.putObject = (ctx) => {
    const { bucket, key } = ctx.params;
    return serialized(`${bucket}/${key}`, async () => {
      const ifMatch = ctx.headers['if-match'];
      const ifNoneMatch = ctx.headers['if-none-match'];
      if (ifMatch !== undefined && ifNoneMatch !== undefined) throw notImplemented('If-None-Match');
      if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw notImplemented('If-None-Match');
      if (ifMatch !== undefined || ifNoneMatch !== undefined) {
        let current = null;
        try {
          current = await ctx.store.getMetadata(bucket, key);
        } catch (err) {
          if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
        }
        if (ifNoneMatch !== undefined && current) throw preconditionFailed('If-None-Match');
        if (ifMatch !== undefined) {
          if (!current) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: key });
          if (unquote(ifMatch) !== unquote(current.etag)) throw preconditionFailed('If-Match');
        }
      }
      return putObject(ctx);
    });
  };
  const deleteObject = objectCtrl.deleteObject;
  objectCtrl.deleteObject = (ctx) =>
    serialized(`${ctx.params.bucket}/${ctx.params.key}`, () => deleteObject(ctx));
}

require('s3rver/bin/s3rver.js');
