// The shim's cheapest route (GET /healthz, no backend call) under looping
// virtual users: the floor cost of the Python HTTP server itself.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), VUS (500), DURATION (20s).
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');

export const businessErrors = new Rate('business_errors');
// Requests that got no HTTP status: refused, reset or timed-out connections.
export const failedConnections = new Counter('failed_connections');

export const options = {
  scenarios: {
    floor: {
      executor: 'constant-vus',
      vus: parseInt(__ENV.VUS || '500', 10),
      duration: __ENV.DURATION || '20s',
    },
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const res = http.get(`${BASE_URL}/healthz`);
  businessErrors.add(res.status !== 200);
  if (res.status === 0) {
    failedConnections.add(1);
  }
}
