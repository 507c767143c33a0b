// Run one ghz-style configuration (bench/ghz/*.json) with k6's gRPC client,
// for machines where ghz is not available.
//
// Environment: CONFIG (absolute path of the JSON file), TARGET (host:port),
// EVENT_ID (substituted for {{event_id}}), VUS and DURATION (override the
// file's concurrency and duration).
// Templates in "data": {{newUUID}}, {{randomInt A B}}, {{event_id}}.
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

const config = JSON.parse(open(__ENV.CONFIG));
const configDir = __ENV.CONFIG.substring(0, __ENV.CONFIG.lastIndexOf('/'));
const importPaths = config['import-paths'].map((p) => `${configDir}/${p}`);
const protoFile = config.proto.replace(/^(\.\.\/)+proto\//, '');
// "pkg.Service.Method" -> "pkg.Service/Method"
const method = config.call.replace(/\.([^.]+)$/, '/$1');

const client = new grpc.Client();
client.load(importPaths, protoFile);

export const rpcErrors = new Rate('rpc_errors');

export const options = {
  scenarios: {
    grpc: {
      executor: 'constant-vus',
      vus: parseInt(__ENV.VUS || String(config.concurrency), 10),
      duration: __ENV.DURATION || config.duration,
    },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

function uuid4() {
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = Math.floor(Math.random() * 16);
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

function expand(value) {
  if (typeof value !== 'string') {
    return value;
  }
  if (value === '{{newUUID}}') {
    return uuid4();
  }
  if (value === '{{event_id}}') {
    return __ENV.EVENT_ID;
  }
  const range = value.match(/^\{\{randomInt (\d+) (\d+)\}\}$/);
  if (range) {
    const low = parseInt(range[1], 10);
    const high = parseInt(range[2], 10);
    return low + Math.floor(Math.random() * (high - low));
  }
  return value;
}

export default function () {
  if (__ITER === 0) {
    client.connect(__ENV.TARGET, { plaintext: true });
  }
  const data = {};
  for (const [key, value] of Object.entries(config.data)) {
    data[key] = expand(value);
  }
  const res = client.invoke(method, data);
  const ok = res && res.status === grpc.StatusOK;
  rpcErrors.add(!ok);
  check(res, { 'status is OK': () => ok });
}
