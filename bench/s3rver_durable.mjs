// s3rver (npm) for replication_bench, with two fixes that make it behave like S3 for rclone.
// Fix 1: a PUT is acknowledged only once its bytes are in the file. s3rver 3.7 resolves putObject when the request stream has been read, before the
// write stream is flushed, so a HEAD or GET right after the 200 can see an empty or short object
// (rclone's post-upload HEAD then fails with "corrupted on transfer: sizes differ N vs 0" on a
// loaded machine). Real S3 is read-after-write consistent; everything else is s3rver unchanged.
//
//   node --openssl-legacy-provider bench/s3rver_durable.mjs <s3rver CLI arguments>
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const cli = require.resolve('s3rver/bin/s3rver.js');
const lib = join(dirname(cli), '..', 'lib');
const sreq = createRequire(join(lib, 'stores', 'filesystem.js'));
const crypto = sreq('crypto');
const fs = sreq('fs-extra');
const { Transform, pipeline } = sreq('stream');
const FilesystemStore = sreq('./filesystem.js');

FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fs.mkdirp(dirname(objectPath));
  const md5Context = crypto.createHash('md5');
  let size = 0;
  if (Buffer.isBuffer(object.content)) {
    await fs.writeFile(objectPath, object.content);
    md5Context.update(object.content);
    size = object.content.length;
  } else {
    await new Promise((resolve, reject) => {
      pipeline(
        object.content,
        new Transform({
          transform(chunk, encoding, callback) {
            md5Context.update(chunk, encoding);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        fs.createWriteStream(objectPath),
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  const md5 = md5Context.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};

// Fix 2: ListObjects with delimiter "/" omits a common prefix whose directory holds only deeper
// directories (s3rver prunes the walk below a common prefix before it has seen an object there),
// so `prefix/notes/` is missing when every key is `prefix/notes/dNN/...`. rclone's per-directory
// listing then misses whole subtrees (re-uploads them on every sync, skips them on copy back).
// Added here: each subdirectory of the listed level that holds at least one object.
const { readdirSync } = sreq('fs');
const OBJECT_SUFFIX = '._S3rver_object';
const hasObject = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() ? hasObject(join(dir, e.name)) : e.name.endsWith(OBJECT_SUFFIX)) return true;
  }
  return false;
};
const listObjects = FilesystemStore.prototype.listObjects;
FilesystemStore.prototype.listObjects = async function listObjectsFixed(bucket, options) {
  const res = await listObjects.call(this, bucket, options);
  const { delimiter = '', prefix = '', startAfter = '' } = options;
  if (delimiter !== '/' || res.isTruncated) return res;
  const cut = prefix.lastIndexOf('/') + 1;
  const dirKey = prefix.slice(0, cut);
  const namePrefix = prefix.slice(cut);
  const dir = join(this.getBucketPath(bucket), dirKey);
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return res;
  }
  const prefixes = new Set(res.commonPrefixes);
  for (const e of entries) {
    if (!e.isDirectory() || !e.name.startsWith(namePrefix)) continue;
    const cp = `${dirKey}${e.name}/`;
    if (cp <= startAfter && !startAfter.startsWith(cp)) continue;
    if (!prefixes.has(cp) && hasObject(join(dir, e.name))) prefixes.add(cp);
  }
  res.commonPrefixes = [...prefixes].sort();
  return res;
};

process.argv = [process.argv[0], cli, ...process.argv.slice(2)];
require(cli);
