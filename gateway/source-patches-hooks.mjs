// Off-thread module hooks for source-patches.cjs on Node versions without module.registerHooks (Node 20):
// runs in the module loader's worker thread, patches the files named in `byUrl` as they load, and
// reports each applied patch to the main thread, which checks them before the server listens.
import { createRequire } from 'node:module';

const { patchSource } = createRequire(import.meta.url)('./source-patches.cjs');
let byUrl = {};
let port = null;

export function initialize(data) {
  ({ byUrl, port } = data);
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  const patch = byUrl[url];
  if (!patch) return result;
  const source = patchSource(patch, result.source);
  port.postMessage(patch.name);
  return { ...result, source };
}
