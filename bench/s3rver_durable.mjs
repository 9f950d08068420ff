// s3rver (npm) for replication_bench, with one fix: a PUT is acknowledged only once its bytes are
// in the file. s3rver 3.7 resolves putObject when the request stream has been read, before the
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

process.argv = [process.argv[0], cli, ...process.argv.slice(2)];
require(cli);
