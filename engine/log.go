package engine

// Log keys used by the engine, so that every record about a tenant or an
// order can be found with one query.
const (
	LogKeyTenant        = "tenant"
	LogKeySymbol        = "symbol"
	LogKeyClientOrderID = "client_order_id"
)
