// check.mjs runs the official Alpaca TypeScript SDK (@alpacahq/alpaca-trade-api),
// unchanged, against a Quantum Alpaca broker and reports one line per call:
//
//	PASS name
//	FAIL name: reason
//
// and a closing "N passed, M failed" line; it exits 1 when anything failed.
//
// Environment:
//
//	QUANTUM_BROKER_URL   base URL of the broker, e.g. http://127.0.0.1:8080
//	APCA_API_KEY_ID      key id (the broker auto-provisions a new pair)
//	APCA_API_SECRET_KEY  secret
//
// The SDK is pointed at the broker only through its public configuration:
// `basePath` on the trading and market-data Configuration objects and `url`
// on the streaming clients. Nothing in the SDK is patched.

import {
  trading,
  marketData,
  streaming,
  pagination,
  OrdersApi,
  ApiError,
  FetchError,
  TimeFrame,
} from "@alpacahq/alpaca-trade-api";

const baseURL = (process.env.QUANTUM_BROKER_URL ?? "").replace(/\/+$/, "");
const keyId = process.env.APCA_API_KEY_ID ?? "";
const secret = process.env.APCA_API_SECRET_KEY ?? "";
if (!baseURL || !keyId || !secret) {
  console.error("check.mjs: set QUANTUM_BROKER_URL, APCA_API_KEY_ID and APCA_API_SECRET_KEY");
  process.exit(2);
}
const wsURL = baseURL.replace(/^http/, "ws");

// REST: one Configuration per API family, both at the broker. Retries stay
// off (the raw-Configuration default) so a wrong status code shows at once.
const restOpts = { basePath: baseURL, keyId, secret, timeoutMs: 15_000, userAgent: "quantum-sdkcheck" };
const tcfg = new trading.Configuration(restOpts);
const mcfg = new marketData.Configuration(restOpts);

const api = {
  account: new trading.AccountsApi(tcfg),
  configs: new trading.AccountConfigurationsApi(tcfg),
  activities: new trading.AccountActivitiesApi(tcfg),
  history: new trading.PortfolioHistoryApi(tcfg),
  orders: new OrdersApi(tcfg), // the SDK's ergonomic subclass: market(), limit(), ...
  positions: new trading.PositionsApi(tcfg),
  assets: new trading.AssetsApi(tcfg),
  clock: new trading.ClockApi(tcfg),
  calendar: new trading.CalendarApi(tcfg),
  watchlists: new trading.WatchlistsApi(tcfg),
  stocks: new marketData.StockApi(mcfg),
  crypto: new marketData.CryptoApi(mcfg),
  news: new marketData.NewsApi(mcfg),
};
const credentials = { keyId, secret };

// --- reporting ----------------------------------------------------------------

let passed = 0;
let failed = 0;

class CheckError extends Error {}

function expect(cond, msg) {
  if (!cond) throw new CheckError(msg);
}

function validDate(d) {
  return d instanceof Date && !Number.isNaN(d.getTime());
}

function isNumStr(v) {
  return typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v));
}

async function describe(err) {
  if (err instanceof CheckError) return err.message;
  if (err instanceof ApiError) {
    const req = err.response?.url ? ` (${err.response.url.replace(baseURL, "")})` : "";
    return `HTTP ${err.status}${err.code != null ? ` code ${err.code}` : ""}: ${err.message}${req}`;
  }
  if (err instanceof FetchError) return `fetch failed: ${err.cause?.message ?? err.message}`;
  return err?.stack ?? String(err);
}

async function step(name, fn) {
  try {
    const out = await fn();
    passed++;
    console.log(`PASS ${name}`);
    return out;
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${(await describe(err)).split("\n").join(" | ")}`);
    return undefined;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cid = (tag) => `sdkcheck-${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function checkOrder(o, want = {}) {
  expect(o && typeof o.id === "string" && o.id.length > 0, "order without id");
  expect(typeof o.clientOrderId === "string" && o.clientOrderId.length > 0, "order without client_order_id");
  expect(validDate(o.createdAt) && validDate(o.submittedAt), "order created_at/submitted_at not timestamps");
  expect(typeof o.status === "string" && o.status !== "", "order without status");
  expect(o.assetClass === "us_equity", `asset_class = ${o.assetClass}`);
  expect(o.filledQty === undefined || isNumStr(o.filledQty), `filled_qty = ${o.filledQty}`);
  for (const [k, v] of Object.entries(want)) {
    // Decimal strings are compared as numbers: Alpaca answers "180.5" for 180.50.
    const same = isNumStr(String(v)) ? isNumStr(o[k]) && Number(o[k]) === Number(v) : String(o[k]) === String(v);
    expect(same, `order ${k} = ${o[k]}, want ${v}`);
  }
  return o;
}

async function waitOrder(id, pred, what, ms = 8000) {
  const end = Date.now() + ms;
  let o;
  for (;;) {
    o = await api.orders.getOrderByOrderID({ orderId: id, nested: true });
    if (pred(o)) return o;
    if (Date.now() > end) throw new CheckError(`order ${id} never became ${what}: status ${o.status}`);
    await sleep(100);
  }
}
const isFilled = (o) => o.status === "filled";

// --- account ------------------------------------------------------------------

await step("account.get", async () => {
  const a = await api.account.getAccount();
  expect(typeof a.id === "string" && a.id, "no account id");
  expect(a.status === "ACTIVE", `status = ${a.status}`);
  expect(a.currency === "USD", `currency = ${a.currency}`);
  expect(isNumStr(a.cash) && isNumStr(a.buyingPower) && isNumStr(a.equity), "cash/buying_power/equity not numeric strings");
  expect(validDate(a.createdAt), "created_at not a timestamp");
});

await step("account.configurations.get", async () => {
  const c = await api.configs.getAccountConfig();
  expect(typeof c.tradeConfirmEmail === "string", `trade_confirm_email = ${c.tradeConfirmEmail}`);
  expect(typeof c.suspendTrade === "boolean" && typeof c.noShorting === "boolean", "suspend_trade/no_shorting not booleans");
  expect(typeof c.fractionalTrading === "boolean", "fractional_trading not boolean");
});

await step("account.configurations.patch", async () => {
  // Round-trip: read, change one field, send the whole SDK model back.
  const c = await api.configs.getAccountConfig();
  const after = await api.configs.patchAccountConfig({ accountConfigurations: { ...c, tradeConfirmEmail: "none", noShorting: true } });
  expect(after.tradeConfirmEmail === "none" && after.noShorting === true, `patch not applied: ${JSON.stringify(after)}`);
  const back = await api.configs.patchAccountConfig({ accountConfigurations: { noShorting: false, fractionalTrading: true } });
  expect(back.noShorting === false && back.tradeConfirmEmail === "none", `second patch: ${JSON.stringify(back)}`);
});

// --- clock, calendar, assets --------------------------------------------------

await step("clock", async () => {
  const c = await api.clock.legacyClock();
  expect(typeof c.isOpen === "boolean", `is_open = ${c.isOpen}`);
  expect(validDate(c.timestamp) && validDate(c.nextOpen) && validDate(c.nextClose), "clock times not timestamps");
});

await step("calendar", async () => {
  // Noon UTC is the same calendar day in New York, whichever way a server
  // reads a timestamp for a date parameter.
  const start = new Date("2025-01-01T12:00:00Z");
  const end = new Date("2025-01-31T12:00:00Z");
  const raw = await api.calendar.legacyCalendar({ start, end });
  // The SDK parses "date" into a Date at UTC midnight; keep the wire's YYYY-MM-DD.
  const days = raw.map((d) => ({ ...d, date: validDate(d.date) ? d.date.toISOString().slice(0, 10) : d.date }));
  // 20 NYSE sessions, or all 31 days when the broker runs always-open.
  expect(Array.isArray(days) && days.length >= 19 && days.length <= 31, `January 2025 has ${days?.length} sessions`);
  for (const d of days) {
    expect(typeof d.date === "string" && /^2025-01-\d{2}$/.test(d.date), `date = ${d.date}`);
    expect(/^\d{2}:\d{2}$/.test(d.open) && /^\d{2}:\d{2}$/.test(d.close), `open/close = ${d.open}/${d.close}`);
  }
  expect(days.every((d, i) => i === 0 || days[i - 1].date < d.date), "days not ascending");
  expect(days[0].date <= "2025-01-02" && days[days.length - 1].date === "2025-01-31", `range ${days[0].date}..${days[days.length - 1].date}`);
});

await step("clock.v3", async () => {
  // The SDK's main clock(): GET /v3/clock.
  const r = await api.clock.clock({ markets: "NYSE" });
  const c = r.clocks?.[0];
  expect(r.clocks.length === 1 && c.market.acronym === "NYSE" && c.market.timezone === "America/New_York", `clocks = ${JSON.stringify(r.clocks)}`);
  expect(["pre", "core", "post", "closed"].includes(c.phase), `phase = ${c.phase}`);
  expect(typeof c.isMarketDay === "boolean", `is_market_day = ${c.isMarketDay}`);
  expect(validDate(c.timestamp) && validDate(c.phaseUntil) && validDate(c.nextMarketOpen) && validDate(c.nextMarketClose), "v3 clock times not timestamps");
  expect(c.phaseUntil > c.timestamp, "phase_until not after timestamp");
});

await step("calendar.v3", async () => {
  // The SDK's main calendar(): GET /v3/calendar/{market}.
  const r = await api.calendar.calendar({ market: "NYSE", start: new Date("2025-01-01T12:00:00Z"), end: new Date("2025-01-31T12:00:00Z") });
  expect(r.market.acronym === "NYSE", `market = ${JSON.stringify(r.market)}`);
  expect(r.calendar.length >= 19 && r.calendar.length <= 31, `January 2025 has ${r.calendar.length} sessions`);
  for (const d of r.calendar) {
    expect(validDate(d.coreStart) && validDate(d.coreEnd) && d.coreStart < d.coreEnd, `core ${d.coreStart}..${d.coreEnd}`);
  }
});

await step("assets.list", async () => {
  const all = await api.assets.getV2Assets({ status: "active", assetClass: "us_equity" });
  expect(Array.isArray(all) && all.length > 5, `got ${all?.length} assets`);
  expect(all.every((a) => a.status === "active"), "status filter not applied");
  const aapl = all.find((a) => a.symbol === "AAPL");
  expect(aapl && aapl.tradable === true && aapl.status === "active", "AAPL missing or not tradable");
  const nasdaq = await api.assets.getV2Assets({ exchange: "NASDAQ" });
  expect(nasdaq.length > 0 && nasdaq.every((a) => a.exchange === "NASDAQ"), "exchange filter not applied");
  const frac = await api.assets.getV2Assets({ status: "active", attributes: ["fractional_eh_enabled"] });
  expect(Array.isArray(frac), "attributes filter did not return a list");
});

await step("assets.get", async () => {
  const a = await api.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: "AAPL" });
  expect(a.symbol === "AAPL" && typeof a.id === "string", `got ${a.symbol}`);
  const byId = await api.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: a.id });
  expect(byId.symbol === "AAPL", `by id got ${byId.symbol}`);
  try {
    await api.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: "NOSUCHSYM" });
    throw new CheckError("unknown asset did not 404");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
});

// --- orders -------------------------------------------------------------------

const t0 = new Date(Date.now() - 1000);
let lastPrice = 0;
await step("market-data.latest-trade (price for orders)", async () => {
  const r = await api.stocks.stockLatestTradeSingle({ symbol: "AAPL" });
  lastPrice = Number(r.trade.p);
  expect(lastPrice > 0, `AAPL price = ${r.trade?.p}`);
});
const px = (f) => (Math.round(lastPrice * f * 100) / 100).toFixed(2);

const ids = {};
ids.market = await step("orders.market", async () => {
  const o = await api.orders.market({ symbol: "AAPL", qty: 10, side: "buy", clientOrderId: cid("mkt") });
  checkOrder(o, { symbol: "AAPL", side: "buy", type: "market", qty: "10", timeInForce: "day" });
  const f = await waitOrder(o.id, isFilled, "filled");
  expect(isNumStr(f.filledAvgPrice) && f.filledQty === "10" && validDate(f.filledAt), `fill = ${f.filledQty}@${f.filledAvgPrice}`);
  return o;
});

ids.limit = await step("orders.limit", async () => {
  const o = await api.orders.limit({ symbol: "AAPL", qty: 1, side: "buy", limitPrice: px(0.5), timeInForce: "gtc", clientOrderId: cid("lmt") });
  checkOrder(o, { type: "limit", limitPrice: px(0.5), timeInForce: "gtc" });
  expect(["new", "accepted", "pending_new"].includes(o.status), `resting limit status = ${o.status}`);
  return o;
});

ids.stop = await step("orders.stop", async () => {
  const o = await api.orders.stop({ symbol: "AAPL", qty: 1, side: "sell", stopPrice: px(0.5), clientOrderId: cid("stp") });
  return checkOrder(o, { type: "stop", stopPrice: px(0.5) });
});

ids.stopLimit = await step("orders.stop_limit", async () => {
  const o = await api.orders.stopLimit({ symbol: "AAPL", qty: 1, side: "sell", stopPrice: px(0.5), limitPrice: px(0.49), clientOrderId: cid("stl") });
  return checkOrder(o, { type: "stop_limit", stopPrice: px(0.5), limitPrice: px(0.49) });
});

ids.trailing = await step("orders.trailing_stop", async () => {
  const o = await api.orders.trailingStop({ symbol: "AAPL", qty: 1, side: "sell", trailPercent: 20, clientOrderId: cid("trl") });
  checkOrder(o, { type: "trailing_stop", trailPercent: "20" });
  expect(o.hwm === undefined || isNumStr(o.hwm), `hwm = ${o.hwm}`);
  return o;
});

ids.bracket = await step("orders.bracket", async () => {
  const o = await api.orders.bracket({
    symbol: "MSFT", qty: 2, side: "buy", timeInForce: "gtc", clientOrderId: cid("brk"),
    takeProfit: { limitPrice: "100000" }, stopLoss: { stopPrice: "1", limitPrice: "0.9" },
  });
  checkOrder(o, { orderClass: "bracket", type: "market" });
  expect(Array.isArray(o.legs) && o.legs.length === 2, `bracket legs = ${o.legs?.length}`);
  const f = await waitOrder(o.id, isFilled, "filled");
  const types = f.legs.map((l) => l.type).sort().join(",");
  expect(types === "limit,stop_limit", `leg types = ${types}`);
  expect(f.legs.every((l) => l.side === "sell" && l.qty === "2"), "legs are not 2-share sells");
  return o;
});

ids.oco = await step("orders.oco", async () => {
  // OCO exits part of the AAPL position bought above.
  const o = await api.orders.oco({
    symbol: "AAPL", qty: 2, side: "sell", timeInForce: "gtc", clientOrderId: cid("oco"),
    takeProfit: { limitPrice: px(3) }, stopLoss: { stopPrice: px(0.3) },
  });
  checkOrder(o, { orderClass: "oco", side: "sell" });
  expect(Array.isArray(o.legs) && o.legs.length === 1, `oco legs = ${o.legs?.length}`);
  return o;
});

ids.oto = await step("orders.oto", async () => {
  const o = await api.orders.oto({
    symbol: "SPY", qty: 3, side: "buy", clientOrderId: cid("oto"), timeInForce: "gtc",
    stopLoss: { stopPrice: "1" },
  });
  checkOrder(o, { orderClass: "oto", symbol: "SPY" });
  const f = await waitOrder(o.id, isFilled, "filled");
  expect(f.legs?.length === 1 && f.legs[0].type === "stop" && f.legs[0].stopPrice === "1", `oto leg = ${JSON.stringify(f.legs?.[0])}`);
  return o;
});

ids.notional = await step("orders.notional", async () => {
  const o = await api.orders.market({ symbol: "AAPL", notional: "250.50", side: "buy", clientOrderId: cid("ntl") });
  checkOrder(o, { notional: "250.5" });
  expect(o.qty === undefined, `notional order has qty ${o.qty}`);
  const f = await waitOrder(o.id, isFilled, "filled");
  expect(isNumStr(f.filledQty) && !Number.isInteger(Number(f.filledQty)), `filled_qty = ${f.filledQty}, want fractional`);
  return o;
});

ids.fractional = await step("orders.fractional", async () => {
  const o = await api.orders.market({ symbol: "AAPL", qty: "0.125", side: "buy", clientOrderId: cid("frc") });
  checkOrder(o, { qty: "0.125" });
  const f = await waitOrder(o.id, isFilled, "filled");
  expect(f.filledQty === "0.125", `filled_qty = ${f.filledQty}`);
  return o;
});

await step("orders.generic-submit", async () => {
  const o = await api.orders.submit({ type: "limit", symbol: "MSFT", side: "buy", qty: 1, limitPrice: "1.00", extendedHours: false, positionIntent: "buy_to_open" });
  return checkOrder(o, { type: "limit", limitPrice: "1" });
});

await step("orders.reject", async () => {
  try {
    await api.orders.market({ symbol: "NOSUCHSYM", qty: 1, side: "buy" });
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) return;
    throw err;
  }
  throw new CheckError("order for an unknown symbol was accepted");
});

await step("orders.list", async () => {
  const open = await api.orders.getAllOrders({ status: "open" });
  expect(Array.isArray(open) && open.length >= 5, `open orders = ${open?.length}`);
  expect(open.every((o) => !["filled", "canceled"].includes(o.status)), "status=open returned closed orders");
  const closed = await api.orders.getAllOrders({ status: "closed", limit: 2, direction: "asc" });
  expect(closed.length === 2 && closed.every((o) => o.status === "filled"), `closed limit 2 = ${closed.map((o) => o.status)}`);
  expect(closed[0].submittedAt <= closed[1].submittedAt, "direction=asc not ascending");
  const all = await api.orders.getAllOrders({ status: "all", limit: 500, direction: "desc", nested: true, after: t0.toISOString(), until: new Date(Date.now() + 60_000).toISOString() });
  expect(all.length >= 10, `status=all returned ${all.length}`);
  const bracket = all.find((o) => o.orderClass === "bracket");
  expect(bracket && bracket.legs?.length === 2, "nested=true did not nest bracket legs");
  expect(!all.some((o) => o.id === bracket.legs[0].id), "nested legs also listed at top level");
  const spy = await api.orders.getAllOrders({ status: "all", symbols: ["SPY", "MSFT"] });
  expect(spy.length > 0 && spy.every((o) => o.symbol === "SPY" || o.symbol === "MSFT"), `symbols filter: ${spy.map((o) => o.symbol)}`);
  const future = await api.orders.getAllOrders({ status: "all", after: new Date(Date.now() + 3600_000).toISOString() });
  expect(future.length === 0, `after=future returned ${future.length}`);
  const sells = await api.orders.getAllOrders({ status: "all", side: "sell" });
  expect(sells.every((o) => o.side === "sell"), "side filter not applied");
});

await step("orders.get", async () => {
  expect(ids.bracket, "no bracket order");
  const o = await api.orders.getOrderByOrderID({ orderId: ids.bracket.id, nested: true });
  checkOrder(o, { id: ids.bracket.id, orderClass: "bracket" });
  expect(o.legs?.length === 2, "legs missing");
  try {
    await api.orders.getOrderByOrderID({ orderId: "00000000-0000-0000-0000-000000000000" });
    throw new CheckError("unknown order did not 404");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
});

await step("orders.get-by-client-order-id", async () => {
  expect(ids.limit, "no limit order");
  const o = await api.orders.getOrderByClientOrderId({ clientOrderId: ids.limit.clientOrderId });
  checkOrder(o, { id: ids.limit.id, clientOrderId: ids.limit.clientOrderId });
});

await step("orders.replace", async () => {
  expect(ids.limit, "no limit order");
  const r = await api.orders.patchOrderByOrderId({
    orderId: ids.limit.id,
    patchOrderRequest: { qty: "2", limitPrice: px(0.55), timeInForce: "day", clientOrderId: cid("rpl") },
  });
  checkOrder(r, { qty: "2", limitPrice: px(0.55), replaces: ids.limit.id, timeInForce: "day" });
  expect(r.id !== ids.limit.id, "replacement kept the old id");
  const old = await waitOrder(ids.limit.id, (o) => o.status === "replaced", "replaced", 3000);
  expect(old.replacedBy === r.id && validDate(old.replacedAt), `old order replaced_by = ${old.replacedBy}`);
  ids.limit = r;
});

await step("orders.replace-trailing", async () => {
  expect(ids.trailing, "no trailing stop order");
  const r = await api.orders.patchOrderByOrderId({ orderId: ids.trailing.id, patchOrderRequest: { trail: "15" } });
  checkOrder(r, { type: "trailing_stop", trailPercent: "15", replaces: ids.trailing.id });
  ids.trailing = r;
});

await step("orders.cancel", async () => {
  expect(ids.stop, "no stop order");
  const res = await api.orders.deleteOrderByOrderIDRaw({ orderId: ids.stop.id });
  expect(res.raw.status === 204, `DELETE /v2/orders/{id} status ${res.raw.status}, want 204`);
  const o = await waitOrder(ids.stop.id, (x) => x.status === "canceled", "canceled", 3000);
  expect(validDate(o.canceledAt), "canceled_at missing");
});

// --- trade-updates stream -----------------------------------------------------

await step("stream.trade-updates", async () => {
  const s = new streaming.TradingStream({ credentials, url: `${wsURL}/stream`, reconnect: false, pingIntervalMs: 0 });
  const errors = [];
  s.onError((m) => errors.push(m));
  try {
    const listening = new Promise((resolve) => s.once(streaming.EVENT.SUBSCRIPTION, resolve));
    s.onConnect(() => s.subscribeTradeUpdates());
    s.connect();
    const auth = await s.waitForAuthenticationResult(5000);
    expect(auth.authenticated, `auth: ${auth.status} ${auth.message}`);
    const streams = await Promise.race([listening, sleep(5000).then(() => null)]);
    expect(Array.isArray(streams) && streams.includes("trade_updates"), `listening = ${JSON.stringify(streams)}`);
    const clientOrderId = cid("stream");
    const events = [];
    const filled = new Promise((resolve) => {
      s.onTradeUpdate((u) => {
        if (u.order.clientOrderId !== clientOrderId) return;
        events.push(u.event);
        if (u.event === "fill") resolve(u);
      });
    });
    await api.orders.market({ symbol: "MSFT", qty: 1, side: "buy", clientOrderId });
    const u = await Promise.race([filled, sleep(8000).then(() => null)]);
    expect(u, `no fill update within 8s (events: ${events.join(",") || "none"}; errors: ${errors.join(";") || "none"})`);
    expect(events[0] === "new", `first event = ${events[0]}, want new`);
    expect(validDate(u.timestamp) && isNumStr(u.price) && u.qty === "1" && isNumStr(u.positionQty), `fill = ${JSON.stringify({ ts: u.timestamp, price: u.price, qty: u.qty, pos: u.positionQty })}`);
    expect(u.order.status === "filled" && u.order.filledQty === "1", `fill order status ${u.order.status}`);
    expect(errors.length === 0, `stream errors: ${errors.join("; ")}`);
  } finally {
    s.disconnect();
  }
});

// --- positions ----------------------------------------------------------------

await step("orders.cancel-all", async () => {
  const res = await api.orders.deleteAllOrdersRaw();
  expect(res.raw.status === 207, `DELETE /v2/orders status ${res.raw.status}, want 207`);
  const out = await res.value();
  expect(Array.isArray(out) && out.length >= 4, `canceled ${out?.length} orders`);
  expect(out.every((c) => typeof c.id === "string" && c.status === 200), `results: ${JSON.stringify(out)}`);
  await sleep(200);
  const open = await api.orders.getAllOrders({ status: "open" });
  expect(open.length === 0, `${open.length} orders still open`);
});

await step("positions.list", async () => {
  const ps = await api.positions.getAllOpenPositions();
  const syms = ps.map((p) => p.symbol).sort().join(",");
  expect(syms === "AAPL,MSFT,SPY", `positions = ${syms}`);
  for (const p of ps) {
    expect(isNumStr(p.qty) && isNumStr(p.avgEntryPrice) && isNumStr(p.marketValue) && isNumStr(p.unrealizedPl), `position ${p.symbol} fields`);
    expect(p.side === "long" && p.assetClass === "us_equity" && typeof p.assetId === "string", `position ${p.symbol} side/class`);
  }
});

await step("positions.get", async () => {
  const p = await api.positions.getOpenPosition({ symbolOrAssetId: "AAPL" });
  expect(p.symbol === "AAPL" && Number(p.qty) > 10 && isNumStr(p.qtyAvailable), `AAPL qty = ${p.qty}`);
  const byId = await api.positions.getOpenPosition({ symbolOrAssetId: p.assetId });
  expect(byId.symbol === "AAPL", "get by asset id");
  try {
    await api.positions.getOpenPosition({ symbolOrAssetId: "TSLA" });
    throw new CheckError("no-position did not 404");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
});

await step("positions.close-qty", async () => {
  const before = Number((await api.positions.getOpenPosition({ symbolOrAssetId: "MSFT" })).qty);
  const o = await api.positions.deleteOpenPosition({ symbolOrAssetId: "MSFT", qty: 1 });
  checkOrder(o, { symbol: "MSFT", side: "sell", qty: "1", type: "market" });
  await waitOrder(o.id, isFilled, "filled");
  const after = Number((await api.positions.getOpenPosition({ symbolOrAssetId: "MSFT" })).qty);
  expect(after === before - 1, `MSFT ${before} -> ${after}`);
});

await step("positions.close-percentage", async () => {
  const before = Number((await api.positions.getOpenPosition({ symbolOrAssetId: "AAPL" })).qty);
  const o = await api.positions.deleteOpenPosition({ symbolOrAssetId: "AAPL", percentage: 50 });
  checkOrder(o, { symbol: "AAPL", side: "sell" });
  expect(Math.abs(Number(o.qty) - before / 2) < 1e-6, `close 50% of ${before} sold ${o.qty}`);
  await waitOrder(o.id, isFilled, "filled");
});

await step("positions.close-all", async () => {
  const res = await api.positions.deleteAllOpenPositionsRaw({ cancelOrders: true });
  expect(res.raw.status === 207, `DELETE /v2/positions status ${res.raw.status}, want 207`);
  const out = await res.value();
  expect(out.length === 3, `closed ${out.length} positions`);
  for (const r of out) {
    expect(r.status === 200 && r.body && typeof r.body.id === "string" && r.body.symbol === r.symbol, `close ${r.symbol}: ${JSON.stringify(r)}`);
  }
  const end = Date.now() + 8000;
  let ps;
  while ((ps = await api.positions.getAllOpenPositions()).length > 0 && Date.now() < end) await sleep(100);
  expect(ps.length === 0, `positions left: ${ps.map((p) => `${p.symbol}=${p.qty}`)}`);
});

// --- activities, portfolio history --------------------------------------------

await step("account.activities", async () => {
  const acts = await api.activities.getAccountActivities({ activityTypes: ["FILL"], direction: "asc", pageSize: 100 });
  expect(acts.length >= 8, `FILL activities = ${acts.length}`);
  const a = acts[0];
  expect(a.activityType === "FILL" && typeof a.id === "string" && typeof a.orderId === "string", `activity = ${JSON.stringify(a)}`);
  expect(isNumStr(a.price) && isNumStr(a.qty) && validDate(a.transactionTime), "fill price/qty/transaction_time");
  const page = await api.activities.getAccountActivities({ pageSize: 2, direction: "desc" });
  expect(page.length === 2, `page_size=2 returned ${page.length}`);
  const next = await api.activities.getAccountActivities({ pageSize: 2, direction: "desc", pageToken: page[1].id });
  expect(next.length > 0 && next[0].id !== page[0].id && next[0].id !== page[1].id, "page_token did not advance");
  const after = await api.activities.getAccountActivities({ activityTypes: ["FILL"], after: new Date(Date.now() + 3600_000) });
  expect(after.length === 0, `after=future returned ${after.length}`);
});

await step("account.activities.paging", async () => {
  for (const direction of ["asc", "desc"]) {
    const all = await api.activities.getAccountActivities({ direction, pageSize: 100 });
    const deposits = all.filter((a) => a.activityType === "CSD");
    expect(deposits.length === 1 && isNumStr(deposits[0].netAmount), `${direction}: ${deposits.length} deposits`);
    const depAt = direction === "asc" ? 0 : all.length - 1;
    expect(all[depAt].activityType === "CSD", `${direction}: the deposit is not the oldest activity`);
    const seen = [];
    let pageToken;
    for (let i = 0; i < 100; i++) {
      const page = await api.activities.getAccountActivities({ direction, pageSize: 3, pageToken });
      expect(page.length <= 3, `${direction}: page of ${page.length} with page_size=3`);
      seen.push(...page.map((a) => a.id));
      if (page.length < 3) break;
      pageToken = page[page.length - 1].id;
    }
    expect(seen.join(",") === all.map((a) => a.id).join(","), `${direction}: pages give ${seen.length} activities, one page ${all.length}`);
  }
  const csd = await api.activities.getAccountActivitiesByActivityType({ activityType: "CSD" });
  expect(csd.length === 1 && csd[0].activityType === "CSD", `CSD activities = ${csd.length}`);
});

await step("account.activities.by-type", async () => {
  const acts = await api.activities.getAccountActivitiesByActivityType({ activityType: "FILL", pageSize: 5 });
  expect(acts.length === 5 && acts.every((a) => a.activityType === "FILL"), `got ${acts.length}`);
  const dated = await api.activities.getAccountActivitiesByActivityType({ activityType: "FILL", until: new Date(Date.now() + 60_000), after: new Date(Date.now() - 3600_000) });
  expect(dated.length >= 8, `after/until window returned ${dated.length}`);
});

await step("account.portfolio-history", async () => {
  const h = await api.history.getAccountPortfolioHistory({ period: "1D", timeframe: "5Min" });
  expect(Array.isArray(h.timestamp) && h.timestamp.length > 0, "no timestamps");
  expect(h.equity.length === h.timestamp.length && h.profitLoss.length === h.timestamp.length && h.profitLossPct.length === h.timestamp.length, "series lengths differ");
  expect(typeof h.baseValue === "number" && h.timeframe === "5Min", `base_value = ${h.baseValue}, timeframe = ${h.timeframe}`);
  const w = await api.history.getAccountPortfolioHistory({ period: "1W", timeframe: "1D", intradayReporting: "market_hours" });
  expect(w.timeframe === "1D", `timeframe = ${w.timeframe}`);
  const s = await api.history.getAccountPortfolioHistory({ start: new Date(Date.now() - 2 * 3600_000), end: new Date(), timeframe: "15Min" });
  expect(s.timestamp.length > 0, "start/end returned nothing");
});

// --- watchlists ---------------------------------------------------------------

await step("watchlists", async () => {
  const name = cid("wl");
  const w = await api.watchlists.postWatchlist({ createWatchlistRequest: { name, symbols: ["AAPL", "MSFT"] } });
  expect(typeof w.id === "string" && w.name === name && validDate(w.createdAt), `created ${JSON.stringify(w)}`);
  expect(w.assets?.map((a) => a.symbol).join(",") === "AAPL,MSFT", `assets = ${w.assets?.map((a) => a.symbol)}`);

  const list = await api.watchlists.getWatchlists();
  expect(list.some((x) => x.id === w.id && x.name === name), "created watchlist not listed");

  const got = await api.watchlists.getWatchlistById({ watchlistId: w.id });
  expect(got.id === w.id && got.assets.length === 2, "get by id");

  const upd = await api.watchlists.updateWatchlistById({ watchlistId: w.id, updateWatchlistRequest: { name: `${name}-2`, symbols: ["SPY"] } });
  expect(upd.name === `${name}-2` && upd.assets.map((a) => a.symbol).join(",") === "SPY", `update: ${upd.name} ${upd.assets?.map((a) => a.symbol)}`);

  const add = await api.watchlists.addAssetToWatchlist({ watchlistId: w.id, addAssetToWatchlistRequest: { symbol: "AAPL" } });
  expect(add.assets.map((a) => a.symbol).join(",") === "SPY,AAPL", `add: ${add.assets.map((a) => a.symbol)}`);

  const rm = await api.watchlists.removeAssetFromWatchlist({ watchlistId: w.id, symbol: "SPY" });
  expect(rm.assets.map((a) => a.symbol).join(",") === "AAPL", `remove: ${rm.assets.map((a) => a.symbol)}`);

  await api.watchlists.deleteWatchlistById({ watchlistId: w.id });
  try {
    await api.watchlists.getWatchlistById({ watchlistId: w.id });
    throw new CheckError("deleted watchlist still readable");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
});

await step("watchlists.by-name", async () => {
  const name = cid("wln");
  await api.watchlists.postWatchlist({ createWatchlistRequest: { name, symbols: [] } });
  const got = await api.watchlists.getWatchlistByName({ name });
  expect(got.name === name && (got.assets ?? []).length === 0, `get by name: ${JSON.stringify(got)}`);
  const add = await api.watchlists.addAssetToWatchlistByName({ name, addAssetToWatchlistRequest: { symbol: "MSFT" } });
  expect(add.assets.map((a) => a.symbol).join(",") === "MSFT", `add by name: ${add.assets.map((a) => a.symbol)}`);
  const upd = await api.watchlists.updateWatchlistByName({ name, updateWatchlistRequest: { name, symbols: ["SPY", "AAPL"] } });
  expect(upd.assets.map((a) => a.symbol).join(",") === "SPY,AAPL", `update by name: ${upd.assets.map((a) => a.symbol)}`);
  await api.watchlists.deleteWatchlistByName({ name });
  const list = await api.watchlists.getWatchlists();
  expect(!list.some((x) => x.name === name), "deleted-by-name watchlist still listed");
});

// --- crypto (issue 9) ---------------------------------------------------------
// Crypto trades around the clock, so these run whatever the broker's session.
// Orders and positions carry the pair form, BTC/USD; Alpaca also finds them by
// the legacy form, BTCUSD.

const isCryptoOrder = (o, symbol) => {
  expect(o && typeof o.id === "string" && o.id.length > 0, "order without id");
  expect(o.symbol === symbol && o.assetClass === "crypto", `order ${o.symbol} ${o.assetClass}, want ${symbol} crypto`);
  return o;
};

await step("crypto.account", async () => {
  const a = await api.account.getAccount();
  expect(a.cryptoStatus === "ACTIVE", `crypto_status = ${a.cryptoStatus}`);
});

await step("crypto.assets", async () => {
  const list = await api.assets.getV2Assets({ status: "active", assetClass: "crypto" });
  expect(list.length >= 10 && list.every((a) => a._class === "crypto" && a.exchange === "CRYPTO" && a.fractionable), `crypto assets: ${list.length}`);
  const btc = list.find((a) => a.symbol === "BTC/USD");
  expect(btc && btc.tradable && isNumStr(btc.minOrderSize) && isNumStr(btc.priceIncrement), `BTC/USD = ${JSON.stringify(btc)}`);
  const legacy = await api.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: "BTCUSD" });
  expect(legacy.id === btc.id && legacy.symbol === "BTC/USD", `BTCUSD = ${legacy.symbol}`);
  const escaped = await api.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: "ETH/USD" });
  expect(escaped.symbol === "ETH/USD", `ETH/USD = ${escaped.symbol}`);
});

await step("crypto.orders.notional", async () => {
  const o = isCryptoOrder(await api.orders.market({ symbol: "BTC/USD", notional: "300", side: "buy", timeInForce: "gtc", clientOrderId: cid("cbn") }), "BTC/USD");
  expect(Number(o.notional) === 300 && o.qty === undefined && o.timeInForce === "gtc", `notional ${o.notional} qty ${o.qty} tif ${o.timeInForce}`);
  const f = await waitOrder(o.id, isFilled, "filled");
  expect(isNumStr(f.filledQty) && Number(f.filledQty) > 0 && isNumStr(f.filledAvgPrice), `fill = ${f.filledQty}@${f.filledAvgPrice}`);
  // The fee is taken in the coin bought: the position is a little less.
  for (const symbolOrAssetId of ["BTCUSD", "BTC/USD"]) {
    const p = await api.positions.getOpenPosition({ symbolOrAssetId });
    expect(p.symbol === "BTC/USD" && p.assetClass === "crypto" && p.exchange === "CRYPTO", `${symbolOrAssetId}: ${p.symbol} ${p.assetClass} ${p.exchange}`);
    expect(Number(p.qty) > 0 && Number(p.qty) < Number(f.filledQty), `${symbolOrAssetId}: qty ${p.qty}, filled ${f.filledQty}`);
  }
});

await step("crypto.orders.limit-gtc", async () => {
  const o = isCryptoOrder(await api.orders.limit({ symbol: "ETH/USD", qty: "0.05", side: "buy", limitPrice: "1000", timeInForce: "gtc", clientOrderId: cid("cel") }), "ETH/USD");
  expect(["new", "accepted", "pending_new"].includes(o.status) && o.timeInForce === "gtc", `resting crypto limit ${o.status} ${o.timeInForce}`);
  for (const symbols of ["ETHUSD", "ETH/USD"]) {
    const open = await api.orders.getAllOrders({ status: "open", symbols });
    expect(open.length === 1 && open[0].id === o.id, `open orders for ${symbols}: ${open.map((x) => x.symbol)}`);
  }
  await api.orders.deleteOrderByOrderID({ orderId: o.id });
  const c = await waitOrder(o.id, (x) => x.status === "canceled", "canceled");
  expect(c.symbol === "ETH/USD", `canceled ${c.symbol}`);
});

await step("crypto.orders.day-refused", async () => {
  try {
    await api.orders.market({ symbol: "BTC/USD", qty: "0.001", side: "buy", timeInForce: "day" });
    throw new CheckError("a crypto day order was accepted");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 422) throw err;
  }
});

await step("crypto.positions.close", async () => {
  const o = isCryptoOrder(await api.positions.deleteOpenPosition({ symbolOrAssetId: "BTCUSD" }), "BTC/USD");
  expect(o.side === "sell", `close side ${o.side}`);
  await waitOrder(o.id, isFilled, "filled");
  const left = await api.positions.getAllOpenPositions();
  expect(!left.some((p) => p.symbol === "BTC/USD"), `BTC/USD still held: ${left.map((p) => `${p.symbol}=${p.qty}`)}`);
});

await step("crypto.market-data.bars", async () => {
  const end = new Date(Date.now() - 60_000);
  const start = new Date(end.getTime() - 3600_000);
  let pages = 0;
  const bySym = await pagination.collectBySymbol(async (pageToken) => {
    pages++;
    const r = await api.crypto.cryptoBars({ loc: "us", symbols: "BTC/USD,ETH/USD", timeframe: "1Min", start, end, limit: 40, pageToken });
    return { data: r.bars, nextPageToken: r.nextPageToken };
  });
  expect(pages >= 3, `pagination used ${pages} pages`);
  for (const s of ["BTC/USD", "ETH/USD"]) {
    const bars = bySym[s] ?? [];
    expect(bars.length >= 50 && bars.length <= 61, `${s}: ${bars.length} minute bars in an hour`);
    // The SDK leaves a bars response's items as the wire has them: t is
    // the RFC 3339 string.
    const bad = bars.find((b) => !(b.l <= b.o && b.o <= b.h && b.l <= b.c && b.c <= b.h && b.v > 0 && validDate(new Date(b.t))));
    expect(bad === undefined, `${s}: bar ${JSON.stringify(bad)}`);
  }
});

await step("crypto.market-data.latest-quotes", async () => {
  const r = await api.crypto.cryptoLatestQuotes({ loc: "us", symbols: "BTC/USD,ETH/USD" });
  for (const s of ["BTC/USD", "ETH/USD"]) {
    const q = r.quotes[s];
    expect(q && q.bp > 0 && q.ap > q.bp && q.bs > 0 && validDate(q.t), `${s} quote = ${JSON.stringify(q)}`);
  }
});

await step("crypto.market-data.snapshots", async () => {
  const r = await api.crypto.cryptoSnapshots({ loc: "us", symbols: "BTC/USD,ETH/USD" });
  for (const s of ["BTC/USD", "ETH/USD"]) {
    const x = r.snapshots[s];
    expect(x && x.latestTrade && x.latestQuote && x.minuteBar && x.dailyBar && x.prevDailyBar, `${s} snapshot keys = ${Object.keys(x ?? {})}`);
    expect(x.latestTrade.p > 0 && x.dailyBar.c > 0 && x.latestQuote.ap > x.latestQuote.bp, `${s} snapshot values`);
  }
});

await step("crypto.market-data.latest-orderbooks", async () => {
  const r = await api.crypto.cryptoLatestOrderbooks({ loc: "us", symbols: "BTC/USD" });
  const b = r.orderbooks["BTC/USD"];
  expect(b && b.b.length > 0 && b.a.length > 0 && b.b[0].p < b.a[0].p && validDate(b.t), `book = ${JSON.stringify(b)}`);
});

await step("stream.crypto", async () => {
  // Trades, quotes and bars come when a minute of the crypto walk ends;
  // an order book subscription starts at once with the whole book, which
  // is what this waits for.
  const s = new streaming.CryptoDataStream({ credentials, url: `${wsURL}/v1beta3/crypto/us`, reconnect: false, pingIntervalMs: 0 });
  const errors = [];
  const books = [];
  let subs = null;
  s.onError((m) => errors.push(m));
  s.on(streaming.EVENT.SUBSCRIPTION, (x) => { subs = x; });
  s.onOrderbook((b) => books.push(b));
  s.onConnect(() => {
    s.subscribeForTrades(["BTC/USD"]);
    s.subscribeForQuotes(["BTCUSD"]);
    s.subscribeForBars(["BTC/USD", "ETH/USD"]);
    s.subscribeForOrderbooks(["BTC/USD"]);
  });
  try {
    s.connect();
    const auth = await s.waitForAuthenticationResult(5000);
    expect(auth.authenticated, `auth: ${auth.status} ${auth.code ?? ""} ${auth.message}`);
    const end = Date.now() + 10_000;
    while ((books.length === 0 || !subs?.orderbooks?.length) && Date.now() < end) await sleep(50);
    expect(subs && subs.trades.includes("BTC/USD") && subs.quotes.includes("BTC/USD") && subs.bars.length === 2, `subscription = ${JSON.stringify(subs)}`);
    const b = books[0];
    expect(b && b.symbol === "BTC/USD" && b.reset === true && b.bids.length > 0 && b.asks.length > 0 && b.bids[0].price < b.asks[0].price, `first book = ${JSON.stringify(b)}`);
    expect(errors.length === 0, `stream errors: ${errors.join("; ")}`);
  } finally {
    s.disconnect();
  }
});

// --- market data REST ---------------------------------------------------------

const mdEnd = new Date(Date.now() - 60_000);
const mdStart = new Date(mdEnd.getTime() - 3 * 3600_000);

await step("market-data.bars", async () => {
  const syms = ["AAPL", "MSFT"];
  let pages = 0;
  const bySym = await pagination.collectBySymbol(async (pageToken) => {
    pages++;
    const r = await api.stocks.stockBars({ symbols: syms.join(","), timeframe: TimeFrame.Minute, start: mdStart, end: mdEnd, limit: 50, feed: "iex", pageToken });
    return { data: r.bars, nextPageToken: r.nextPageToken };
  });
  expect(pages >= 3, `pagination used ${pages} pages`);
  for (const s of syms) {
    const bars = bySym[s] ?? [];
    expect(bars.length >= 100, `${s}: ${bars.length} bars`);
    const seen = new Set(bars.map((b) => String(b.t)));
    expect(seen.size === bars.length, `${s}: duplicate bars across pages`);
    const b = bars[0];
    expect(typeof b.o === "number" && b.h >= b.l && typeof b.v === "number" && typeof b.n === "number", `${s} bar = ${JSON.stringify(b)}`);
  }
  const one = await api.stocks.stockBarSingle({ symbol: "SPY", timeframe: "15Min", start: mdStart, end: mdEnd, limit: 3 });
  expect(one.symbol === "SPY" && one.bars.length === 3 && typeof one.nextPageToken === "string", `single: ${one.bars?.length} bars, token ${one.nextPageToken}`);
  const day = await api.stocks.stockBars({ symbols: "AAPL", timeframe: TimeFrame.Day, start: new Date(Date.now() - 10 * 86400_000), adjustment: "raw", sort: "desc" });
  expect((day.bars.AAPL ?? []).length >= 1, "no daily bars");
});

await step("market-data.trades", async () => {
  const start = new Date(Date.now() - 10 * 60_000);
  const r = await api.stocks.stockTrades({ symbols: "AAPL,MSFT", start, limit: 100 });
  expect(r.trades.AAPL?.length > 0 || r.trades.MSFT?.length > 0, "no trades");
  const t = (r.trades.AAPL ?? r.trades.MSFT)[0];
  expect(typeof t.p === "number" && typeof t.s === "number" && t.t && typeof t.x === "string", `trade = ${JSON.stringify(t)}`);
  const one = await api.stocks.stockTradeSingle({ symbol: "AAPL", start, limit: 5, sort: "desc" });
  expect(one.symbol === "AAPL" && one.trades.length === 5, `single trades = ${one.trades?.length}`);
  if (one.nextPageToken) {
    const next = await api.stocks.stockTradeSingle({ symbol: "AAPL", start, limit: 5, sort: "desc", pageToken: one.nextPageToken });
    expect(next.trades.length > 0 && String(next.trades[0].t) !== String(one.trades[0].t), "trade page 2");
  }
});

await step("market-data.quotes", async () => {
  const start = new Date(Date.now() - 2 * 60_000);
  const r = await api.stocks.stockQuotes({ symbols: "AAPL", start, limit: 50, feed: "iex" });
  const q = r.quotes.AAPL?.[0];
  expect(q && typeof q.bp === "number" && typeof q.ap === "number" && q.bp <= q.ap && typeof q.bs === "number", `quote = ${JSON.stringify(q)}`);
  const one = await api.stocks.stockQuoteSingle({ symbol: "MSFT", start, limit: 10 });
  expect(one.symbol === "MSFT" && one.quotes.length === 10, `single quotes = ${one.quotes?.length}`);
});

await step("market-data.latest", async () => {
  const lb = await api.stocks.stockLatestBarSingle({ symbol: "AAPL" });
  expect(lb.symbol === "AAPL" && typeof lb.bar.c === "number", `latest bar = ${JSON.stringify(lb)}`);
  const lbs = await api.stocks.stockLatestBars({ symbols: "AAPL,SPY" });
  expect(lbs.bars.AAPL && lbs.bars.SPY, "latest bars multi");
  const lt = await api.stocks.stockLatestTradeSingle({ symbol: "MSFT", feed: "iex" });
  expect(lt.symbol === "MSFT" && typeof lt.trade.p === "number", "latest trade");
  const lts = await api.stocks.stockLatestTrades({ symbols: "AAPL,MSFT" });
  expect(lts.trades.AAPL && lts.trades.MSFT, "latest trades multi");
  const lq = await api.stocks.stockLatestQuoteSingle({ symbol: "SPY" });
  expect(lq.symbol === "SPY" && typeof lq.quote.ap === "number", "latest quote");
  const lqs = await api.stocks.stockLatestQuotes({ symbols: "SPY,AAPL", feed: "sip" });
  expect(lqs.quotes.SPY && lqs.quotes.AAPL, "latest quotes multi");
});

await step("market-data.snapshots", async () => {
  const s = await api.stocks.stockSnapshotSingle({ symbol: "AAPL" });
  expect(s.latestTrade && s.latestQuote && s.minuteBar && s.dailyBar && s.prevDailyBar, `snapshot keys = ${Object.keys(s)}`);
  expect(typeof s.latestTrade.p === "number" && typeof s.dailyBar.c === "number", "snapshot values");
  const m = await api.stocks.stockSnapshots({ symbols: "AAPL,MSFT,SPY" });
  expect(m.AAPL && m.MSFT && m.SPY, `snapshots keys = ${Object.keys(m)}`);
  const mm = m.MSFT;
  expect((mm.latestTrade ?? mm.latest_trade) != null, `multi snapshot shape = ${Object.keys(mm)}`);
});

// --- market-data stream -------------------------------------------------------

async function marketDataStream({ feed, url, symbol }) {
  const s = new streaming.StockDataStream({ credentials, feed, url, reconnect: false, pingIntervalMs: 0 });
  const errors = [];
  const got = { trade: 0, quote: 0, bar: 0 };
  let subs = null;
  s.onError((m) => errors.push(m));
  s.on(streaming.EVENT.SUBSCRIPTION, (x) => { subs = x; });
  s.onTrade((t) => { if (t.symbol === symbol && t.price > 0 && t.size > 0 && validDate(t.timestamp)) got.trade++; });
  s.onQuote((q) => { if (q.symbol === symbol && q.bidPrice > 0 && q.askPrice >= q.bidPrice && validDate(q.timestamp)) got.quote++; });
  s.onBar((b) => { if (b.close > 0) got.bar++; });
  s.onConnect(() => {
    s.subscribeForTrades([symbol]);
    s.subscribeForQuotes([symbol]);
    s.subscribeForBars([symbol]);
  });
  try {
    s.connect();
    const auth = await s.waitForAuthenticationResult(5000);
    expect(auth.authenticated, `auth: ${auth.status} ${auth.code ?? ""} ${auth.message}`);
    // Trades and quotes tick continuously; minute bars only on the minute,
    // so a bar is counted when one comes but not waited for.
    const end = Date.now() + 15_000;
    while ((got.trade === 0 || got.quote === 0) && Date.now() < end) await sleep(100);
    expect(subs && subs.trades.includes(symbol) && subs.quotes.includes(symbol) && subs.bars.includes(symbol), `subscription = ${JSON.stringify(subs)}`);
    expect(got.trade > 0 && got.quote > 0, `received ${JSON.stringify(got)}; errors: ${errors.join("; ") || "none"}`);
    s.unsubscribeFromQuotes([symbol]);
    await sleep(300);
    expect(subs.quotes.length === 0, `after unsubscribe: ${JSON.stringify(subs)}`);
    expect(errors.length === 0, `stream errors: ${errors.join("; ")}`);
  } finally {
    s.disconnect();
  }
}

await step("stream.market-data.iex", () => marketDataStream({ feed: "iex", url: `${wsURL}/v2/iex`, symbol: "AAPL" }));
await step("stream.market-data.sip", () => marketDataStream({ feed: "sip", url: `${wsURL}/v2/sip`, symbol: "MSFT" }));
await step("stream.market-data.test", () => marketDataStream({ url: `${wsURL}/v2/test`, symbol: "FAKEPACA" }));

// --- news (issue 9) -----------------------------------------------------------

await step("market-data.news", async () => {
  const r = await api.news.news({ start: new Date(Date.now() - 3 * 86400_000), sort: "desc", limit: 5, includeContent: true });
  expect(Array.isArray(r.news) && r.news.length === 5 && typeof r.nextPageToken === "string", `news: ${r.news?.length}, token ${r.nextPageToken}`);
  const a = r.news[0];
  expect(typeof a.id === "number" && a.headline && a.content && Array.isArray(a.symbols) && validDate(new Date(a.createdAt)), `article = ${JSON.stringify(a)}`);
  const next = await api.news.news({ start: new Date(Date.now() - 3 * 86400_000), sort: "desc", limit: 5, pageToken: r.nextPageToken });
  expect(next.news.length > 0 && next.news[0].id !== a.id, "news page 2");
});

await step("stream.news", async () => {
  // Articles come as the clock passes their created_at, a few an hour:
  // this checks the session (connect, auth, subscribe with its echo),
  // and counts an article only if one comes.
  const s = new streaming.NewsStream({ credentials, url: `${wsURL}/v1beta1/news`, reconnect: false, pingIntervalMs: 0 });
  const errors = [];
  let subs = null;
  s.onError((m) => errors.push(m));
  s.on(streaming.EVENT.SUBSCRIPTION, (x) => { subs = x; });
  s.onNews((n) => { if (!(n.headline && n.symbols.length > 0 && validDate(n.createdAt))) errors.push(`bad article ${JSON.stringify(n)}`); });
  s.onConnect(() => s.subscribeForNews(["*"]));
  try {
    s.connect();
    const auth = await s.waitForAuthenticationResult(5000);
    expect(auth.authenticated, `auth: ${auth.status} ${auth.code ?? ""} ${auth.message}`);
    const end = Date.now() + 5000;
    while (!subs?.news?.length && Date.now() < end) await sleep(50);
    expect(subs && subs.news.length === 1 && subs.news[0] === "*", `subscription = ${JSON.stringify(subs)}`);
    s.unsubscribeFromNews(["*"]);
    const end2 = Date.now() + 5000;
    while (subs.news.length > 0 && Date.now() < end2) await sleep(50);
    expect(subs.news.length === 0, `after unsubscribe: ${JSON.stringify(subs)}`);
    expect(errors.length === 0, `stream errors: ${errors.join("; ")}`);
  } finally {
    s.disconnect();
  }
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
