// Flash-sale seed scenario: looping virtual users book 1 to 5 tickets each
// for a random user against one event, until the run ends. 409 (sold out)
// is a normal answer; any other non-200 status is a business error.
//
// Environment: BASE_URL (default http://127.0.0.1:8080), VUS (500),
// DURATION (20s), TICKETS (50000).
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const VUS = parseInt(__ENV.VUS || '500', 10);
const DURATION = __ENV.DURATION || '20s';
const TICKETS = parseInt(__ENV.TICKETS || '50000', 10);

export const businessErrors = new Rate('business_errors');
// Requests that got no HTTP status: refused, reset or timed-out connections.
export const failedConnections = new Counter('failed_connections');
export const booked = new Counter('bookings_confirmed');
export const soldOut = new Counter('bookings_sold_out');
// Latency split by phase: 200 answers come from the selling phase, 409
// answers from the sold-out phase.
export const sellingLatency = new Trend('latency_confirmed', true);
export const soldOutLatency = new Trend('latency_sold_out', true);

export const options = {
  scenarios: {
    flash_sale: { executor: 'constant-vus', vus: VUS, duration: DURATION },
  },
  thresholds: {
    business_errors: ['rate<0.01'],
    http_req_duration: ['p(95)<200'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const JSON_HEADERS = { headers: { 'Content-Type': 'application/json' } };

function randomInt(low, high) {
  return low + Math.floor(Math.random() * (high - low + 1));
}

export function setup() {
  const body = JSON.stringify({ name: `k6 flash sale ${Date.now()}`, total_tickets: TICKETS });
  const res = http.post(`${BASE_URL}/api/v1/events`, body, JSON_HEADERS);
  if (res.status !== 201) {
    throw new Error(`creating the event failed: ${res.status} ${res.body}`);
  }
  return { eventId: res.json('id') };
}

export default function (data) {
  const body = JSON.stringify({
    user_id: randomInt(1, 10000),
    event_id: data.eventId,
    quantity: randomInt(1, 5),
  });
  const res = http.post(`${BASE_URL}/api/v1/book`, body, JSON_HEADERS);
  const ok = res.status === 200 || res.status === 409;
  if (res.status === 0) {
    failedConnections.add(1);
  }
  businessErrors.add(!ok);
  if (res.status === 200) {
    booked.add(1);
    sellingLatency.add(res.timings.duration);
  } else if (res.status === 409) {
    soldOut.add(1);
    soldOutLatency.add(res.timings.duration);
  }
  check(res, {
    'status is 200 or 409': () => ok,
  });
}
