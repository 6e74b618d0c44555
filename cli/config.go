package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"github.com/quantum-alpaca/quantum/postgres"
	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/strategy/macross"
	"github.com/quantum-alpaca/quantum/strategy/rebalance"
	"github.com/quantum-alpaca/quantum/trading"
)

// Config is the file `quantum run --config` reads.
type Config struct {
	// Broker is the trading API base URL; empty runs the embedded broker.
	Broker string `yaml:"broker"`
	// Data is the directory of the SQLite journal and the saved trading
	// states.
	Data string `yaml:"data"`
	// Journal is "sqlite" (the default: a file under Data) or a
	// postgres:// URL; ${NAME} is replaced from the environment.
	Journal string `yaml:"journal"`
	// Listen is the ops API address.
	Listen string `yaml:"listen"`
	// RateLimit is requests/min per tenant; 0 is unlimited. Unset: 0 for
	// the embedded or a loopback broker, Alpaca's limit otherwise.
	RateLimit *int `yaml:"rate_limit"`
	// IdleConnTimeout is how long a tenant's unused REST connection stays
	// open, as a duration; default alpacabroker.DefaultIdleConnTimeout.
	IdleConnTimeout string         `yaml:"idle_conn_timeout"`
	Tenants         []TenantConfig `yaml:"tenants"`
	// Notify are the webhooks that alerts go to (see NotifyConfig).
	Notify []NotifyConfig `yaml:"notify"`
	// BrokerAPI is the Broker API firm whose customer accounts the
	// tenants with a broker_account_id trade in.
	BrokerAPI *BrokerAPIConfig `yaml:"broker_api"`
	// EngineName is how the dashboard and logs name this engine when
	// several share a PostgreSQL journal; default host:pid.
	EngineName string `yaml:"engine_name"`

	idleConn   time.Duration // IdleConnTimeout, parsed by validate
	journalDSN string        // Journal after ${NAME} expansion
	journalAt  string        // where a PostgreSQL journal is, without its password; set by validate
}

// sharedJournal says whether the journal is in PostgreSQL (a database
// engines can share) rather than SQLite under Data.
func (c *Config) sharedJournal() bool { return c.journalDSN != "" && c.journalDSN != "sqlite" }

// BrokerAPIConfig is a Broker API firm: one key for all its customer
// accounts, one rate limit and one trade-event stream shared by them.
type BrokerAPIConfig struct {
	// URL is the Broker API (https://broker-api.sandbox.alpaca.markets,
	// or `quantum broker`, which serves it beside the Trading API);
	// default: broker.
	URL       string `yaml:"url"`
	Key       string `yaml:"key"`
	Secret    string `yaml:"secret"`
	KeyEnv    string `yaml:"key_env"`
	SecretEnv string `yaml:"secret_env"`
	// RateLimit is requests/min for the whole firm; unset: 0 for a
	// loopback broker, Alpaca's Broker API limit otherwise.
	RateLimit *int `yaml:"rate_limit"`
	// AccountRateLimit, when above 0, is requests/min for each account
	// inside the firm's budget, so that one busy tenant cannot spend the
	// whole firm's; default 0: none.
	AccountRateLimit int `yaml:"account_rate_limit"`

	key, secret string // after ${NAME} expansion and the *_env look-ups
}

// TenantConfig is one tenant in the config file.
type TenantConfig struct {
	ID string `yaml:"id"`
	// BrokerAccountID makes the tenant a customer account of broker_api's
	// firm instead of a Trading API key pair of its own.
	BrokerAccountID string `yaml:"broker_account_id"`
	KeyID           string `yaml:"key_id"`
	Secret          string `yaml:"secret"`
	KeyIDEnv        string `yaml:"key_id_env"`
	SecretEnv       string `yaml:"secret_env"`
	Strategy        string `yaml:"strategy"`
	// Params are strategy parameters; values are scalars.
	Params strategy.Params `yaml:"params"`
	Risk   RiskConfig      `yaml:"risk"`
	// State is the initial trading state (ACTIVE, REDUCING, HALTED).
	State string `yaml:"state"`

	// keyID and secret are the credentials after ${NAME} expansion and
	// the *_env look-ups, filled in by ParseConfig.
	keyID, secret string
}

// RiskConfig is a tenant's risk limits; amounts are decimals, written as
// numbers or strings.
type RiskConfig struct {
	MaxOrderNotional string `yaml:"max_order_notional"`
	MaxPositionQty   string `yaml:"max_position_qty"`
	MaxOpenOrders    int    `yaml:"max_open_orders"`
	DailyLossLimit   string `yaml:"daily_loss_limit"`
	BreakerErrors    int    `yaml:"breaker_errors"`
	BreakerWindow    string `yaml:"breaker_window"`
}

// Config defaults.
const (
	DefaultDataDir = "./quantum-data"
	DefaultListen  = "127.0.0.1:8080"
)

// DefaultConfig returns the settings used when the file leaves them out.
func DefaultConfig() Config {
	return Config{Data: DefaultDataDir, Listen: DefaultListen}
}

// ErrConfig is wrapped by every ConfigValidationError.
var ErrConfig = errors.New("invalid config")

// ConfigValidationError names the config field that is wrong.
type ConfigValidationError struct {
	Field string
	Value string
	Err   error
}

// Error implements error; secrets are never quoted.
func (e *ConfigValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("config: %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("config: %s: %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *ConfigValidationError) Unwrap() error { return e.Err }

// Is makes every ConfigValidationError match ErrConfig.
func (e *ConfigValidationError) Is(target error) bool { return target == ErrConfig }

// ParseConfig reads a YAML config. Unknown keys are errors (a typo in a
// risk limit must not silently disable it). ${NAME} in key_id and secret
// is replaced with getenv(NAME).
func ParseConfig(r io.Reader, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, &ConfigValidationError{Field: "tenants", Err: errors.New("empty config")}
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	cfg.journalDSN = expandEnv(cfg.Journal, getenv)
	cfg.expandNotify(getenv)
	if b := cfg.BrokerAPI; b != nil {
		b.key, b.secret = expandEnv(b.Key, getenv), expandEnv(b.Secret, getenv)
		if b.KeyEnv != "" {
			b.key = getenv(b.KeyEnv)
		}
		if b.SecretEnv != "" {
			b.secret = getenv(b.SecretEnv)
		}
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		t.keyID = expandEnv(t.KeyID, getenv)
		t.secret = expandEnv(t.Secret, getenv)
		if t.KeyIDEnv != "" {
			t.keyID = getenv(t.KeyIDEnv)
		}
		if t.SecretEnv != "" {
			t.secret = getenv(t.SecretEnv)
		}
		// Alpaca's standard names serve a single-tenant config that names
		// no keys at all, so pointing at paper trading is one variable.
		if len(cfg.Tenants) == 1 && t.BrokerAccountID == "" && t.KeyID == "" && t.KeyIDEnv == "" && t.Secret == "" && t.SecretEnv == "" {
			t.keyID, t.secret = getenv("APCA_API_KEY_ID"), getenv("APCA_API_SECRET_KEY")
		}
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func expandEnv(s string, getenv func(string) string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string { return getenv(m[2 : len(m)-1]) })
}

// ReadConfigFile parses the config file at path.
func ReadConfigFile(path string, getenv func(string) string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f, getenv)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// tenantSpec is a validated tenant, ready to wire.
type tenantSpec struct {
	ID trading.TenantID
	// BrokerAccountID, when set, is the firm's customer account the
	// tenant trades in; KeyID and Secret are then empty.
	BrokerAccountID string
	KeyID           string
	Secret          string
	Strategy        string
	NewStrategy     func() (trading.Strategy, error)
	Limits          trading.Limits
	State           trading.TradingState
}

// validate checks everything that can be checked without the network
// and returns the tenants ready to wire, each with its strategy from
// strategies. deriveKeys says whether the broker provisions accounts for
// any key pair (the embedded one, or the demo against `quantum broker
// --auto-provision`), so that a tenant without keys gets a stable key
// pair derived from its id.
func (c *Config) validate(strategies *strategy.Registry, deriveKeys bool) ([]tenantSpec, error) {
	bad := func(field, value string, err error) error {
		return &ConfigValidationError{Field: field, Value: value, Err: err}
	}
	if c.Broker != "" {
		u, err := url.Parse(c.Broker)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("broker", c.Broker, errors.New("want an http(s) URL"))
		}
	}
	if c.Data == "" {
		return nil, bad("data", "", errors.New("required"))
	}
	if c.RateLimit != nil && *c.RateLimit < 0 {
		return nil, bad("rate_limit", fmt.Sprint(*c.RateLimit), errors.New("must not be negative"))
	}
	if c.sharedJournal() {
		// The value may hold a password, as a URL's user info or a
		// keyword/value string's password=: it is never quoted.
		where, err := postgres.Describe(c.journalDSN)
		if err != nil {
			return nil, bad("journal", "", errors.New(`want "sqlite", a postgres:// URL or a "host=... dbname=..." string`))
		}
		c.journalAt = "PostgreSQL " + where
	}
	if c.IdleConnTimeout != "" {
		d, err := time.ParseDuration(c.IdleConnTimeout)
		if err != nil || d <= 0 {
			return nil, bad("idle_conn_timeout", c.IdleConnTimeout, errors.New("want a positive duration like 5s"))
		}
		c.idleConn = d
	}
	if len(c.Tenants) == 0 {
		return nil, bad("tenants", "", errors.New("at least one tenant required"))
	}
	seen := map[string]bool{}
	keys := map[string]int{}     // key_id -> tenant index
	accounts := map[string]int{} // broker_account_id -> tenant index
	if err := c.validateBrokerAPI(); err != nil {
		return nil, err
	}
	specs := make([]tenantSpec, 0, len(c.Tenants))
	for i, t := range c.Tenants {
		f := func(name string) string { return fmt.Sprintf("tenants[%d].%s", i, name) }
		if t.ID != "" {
			f = func(name string) string { return fmt.Sprintf("tenants[%d](%s).%s", i, t.ID, name) }
		}
		id := trading.TenantID(t.ID)
		if err := id.Validate(); err != nil {
			return nil, bad(f("id"), t.ID, errors.New(trading.ErrorMessage(err)))
		}
		if seen[t.ID] {
			return nil, bad(f("id"), t.ID, errors.New("used by two tenants"))
		}
		seen[t.ID] = true
		if t.KeyID != "" && t.KeyIDEnv != "" {
			return nil, bad(f("key_id"), "", errors.New("give key_id or key_id_env, not both"))
		}
		if t.Secret != "" && t.SecretEnv != "" {
			return nil, bad(f("secret"), "", errors.New("give secret or secret_env, not both"))
		}
		spec := tenantSpec{ID: id, KeyID: t.keyID, Secret: t.secret, Strategy: t.Strategy}
		if t.BrokerAccountID != "" {
			if err := c.brokerAccount(t, f, accounts, i); err != nil {
				return nil, err
			}
			spec = tenantSpec{ID: id, BrokerAccountID: t.BrokerAccountID, Strategy: t.Strategy}
		} else if spec.KeyID == "" || spec.Secret == "" {
			switch {
			case !deriveKeys && spec.KeyID == "":
				return nil, bad(f("key_id"), "", missingCred("key_id", t.KeyIDEnv))
			case !deriveKeys:
				return nil, bad(f("secret"), "", missingCred("secret", t.SecretEnv))
			}
			// The embedded broker gives any key pair an account; derive
			// one per tenant so accounts stay apart and stable.
			spec.KeyID, spec.Secret = "PK"+strings.ToUpper(demoKey(t.ID)), "embedded-"+demoKey(t.ID)
		}
		if j, dup := keys[spec.KeyID]; dup && spec.KeyID != "" {
			// One account for two tenants: each would take the other's
			// positions and orders for its own.
			return nil, bad(f("key_id"), "", fmt.Errorf("the same key pair as tenants[%d] (%s): two tenants would share one account", j, c.Tenants[j].ID))
		}
		keys[spec.KeyID] = i
		st, ok := strategies.Lookup(t.Strategy)
		if !ok {
			var known []string
			for _, s := range strategies.Specs() {
				known = append(known, s.Name)
			}
			return nil, bad(f("strategy"), t.Strategy, fmt.Errorf("unknown strategy (known: %s)", strings.Join(known, ", ")))
		}
		mk, err := st.New(t.Params)
		if err != nil {
			var pe *strategy.ParamError
			if errors.As(err, &pe) {
				return nil, bad(f("params."+pe.Param), pe.Value, pe.Err)
			}
			return nil, bad(f("params"), "", err)
		}
		spec.NewStrategy = mk
		lim, err := t.Risk.limits(func(name string) string { return f("risk." + name) })
		if err != nil {
			return nil, err
		}
		spec.Limits = lim
		spec.State = trading.Active
		if t.State != "" {
			spec.State = trading.TradingState(strings.ToUpper(t.State))
			if !spec.State.Valid() {
				return nil, bad(f("state"), t.State, errors.New("want ACTIVE, REDUCING or HALTED"))
			}
		}
		specs = append(specs, spec)
	}
	if err := c.validateNotify(); err != nil {
		return nil, err
	}
	return specs, nil
}

// validateBrokerAPI checks the firm's block, when there is one.
func (c *Config) validateBrokerAPI() error {
	b := c.BrokerAPI
	if b == nil {
		return nil
	}
	bad := func(field, value string, err error) error {
		return &ConfigValidationError{Field: "broker_api." + field, Value: value, Err: err}
	}
	if b.URL == "" {
		b.URL = c.Broker
	}
	if b.URL == "" {
		return bad("url", "", errors.New("required: the embedded broker has no Broker API firm; run `quantum broker --broker-key ... --broker-secret ...` and give its URL"))
	}
	if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("url", b.URL, errors.New("want an http(s) URL"))
	}
	if b.Key != "" && b.KeyEnv != "" {
		return bad("key", "", errors.New("give key or key_env, not both"))
	}
	if b.Secret != "" && b.SecretEnv != "" {
		return bad("secret", "", errors.New("give secret or secret_env, not both"))
	}
	if b.key == "" {
		return bad("key", "", missingCred("key", b.KeyEnv))
	}
	if b.secret == "" {
		return bad("secret", "", missingCred("secret", b.SecretEnv))
	}
	if b.RateLimit != nil && *b.RateLimit < 0 {
		return bad("rate_limit", fmt.Sprint(*b.RateLimit), errors.New("must not be negative"))
	}
	if b.AccountRateLimit < 0 {
		return bad("account_rate_limit", fmt.Sprint(b.AccountRateLimit), errors.New("must not be negative"))
	}
	return nil
}

// brokerAccount checks tenant i's broker_account_id: a firm to trade
// under, no key pair of its own, one tenant per account.
func (c *Config) brokerAccount(t TenantConfig, f func(string) string, accounts map[string]int, i int) error {
	bad := func(field, value string, err error) error {
		return &ConfigValidationError{Field: f(field), Value: value, Err: err}
	}
	switch {
	case c.BrokerAPI == nil:
		return bad("broker_account_id", t.BrokerAccountID, errors.New("needs a broker_api: block with the firm's URL and key"))
	case t.KeyID != "" || t.KeyIDEnv != "" || t.Secret != "" || t.SecretEnv != "":
		return bad("broker_account_id", t.BrokerAccountID, errors.New("a Broker API account trades with the firm's key: drop key_id and secret"))
	case strings.ContainsAny(t.BrokerAccountID, "/?#% "):
		return bad("broker_account_id", t.BrokerAccountID, errors.New("not an account id"))
	}
	if j, dup := accounts[t.BrokerAccountID]; dup {
		return bad("broker_account_id", t.BrokerAccountID, fmt.Errorf("also tenants[%d] (%s)'s: two tenants would share one account", j, c.Tenants[j].ID))
	}
	accounts[t.BrokerAccountID] = i
	return nil
}

func missingCred(name, envName string) error {
	if envName != "" {
		return fmt.Errorf("environment variable %s (from %s_env) is empty or unset", envName, name)
	}
	return fmt.Errorf("required with an external broker (set %s or %s_env)", name, name)
}

func demoKey(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return "demo" + b.String()
}

// maxLimit bounds every amount in a risk limit: larger is a typo, not a
// limit.
var maxLimit = decimal.New(1, 15)

func (r RiskConfig) limits(field func(string) string) (trading.Limits, error) {
	var l trading.Limits
	dec := func(name, v string, dst *decimal.Decimal) error {
		if v == "" {
			return nil
		}
		d, err := decimal.NewFromString(strings.TrimSpace(v))
		if err != nil {
			return &ConfigValidationError{Field: field(name), Value: v, Err: errors.New("not a number")}
		}
		if d.IsNegative() {
			return &ConfigValidationError{Field: field(name), Value: v, Err: errors.New("must not be negative")}
		}
		if d.GreaterThanOrEqual(maxLimit) {
			// 1e400 parses, and would silently mean "no limit".
			return &ConfigValidationError{Field: field(name), Value: v, Err: fmt.Errorf("must be below %s; leave it out for no limit", maxLimit)}
		}
		*dst = d
		return nil
	}
	if err := dec("max_order_notional", r.MaxOrderNotional, &l.MaxOrderNotional); err != nil {
		return l, err
	}
	if err := dec("max_position_qty", r.MaxPositionQty, &l.MaxPositionQty); err != nil {
		return l, err
	}
	if err := dec("daily_loss_limit", r.DailyLossLimit, &l.DailyLossLimit); err != nil {
		return l, err
	}
	if r.MaxOpenOrders < 0 {
		return l, &ConfigValidationError{Field: field("max_open_orders"), Value: fmt.Sprint(r.MaxOpenOrders), Err: errors.New("must not be negative")}
	}
	l.MaxOpenOrders = r.MaxOpenOrders
	if r.BreakerErrors < 0 {
		// trading.Limits reads a negative count as "no breaker"; a config
		// file must not switch a safety off by a sign.
		return l, &ConfigValidationError{Field: field("breaker_errors"), Value: fmt.Sprint(r.BreakerErrors), Err: fmt.Errorf("must not be negative (0 means the default, %d)", trading.DefaultBreakerErrors)}
	}
	l.BreakerErrors = r.BreakerErrors
	if r.BreakerWindow != "" {
		d, err := time.ParseDuration(r.BreakerWindow)
		if err != nil || d <= 0 {
			return l, &ConfigValidationError{Field: field("breaker_window"), Value: r.BreakerWindow, Err: errors.New("want a positive duration like 10s")}
		}
		l.BreakerWindow = d
	}
	return l, nil
}

// demoConfig is what `quantum run` without a config file runs: three
// tenants on the embedded broker, each with a different strategy.
func demoConfig() Config {
	cfg := DefaultConfig()
	cfg.Tenants = []TenantConfig{
		{ID: "demo-dca", Strategy: dca.Name, Params: strategy.Params{"symbol": "AAPL", "qty": "1", "interval": "2s", "count": "1000"},
			Risk: RiskConfig{MaxOrderNotional: "5000", MaxPositionQty: "1000", MaxOpenOrders: 10}},
		{ID: "demo-macross", Strategy: macross.Name, Params: strategy.Params{"symbol": "MSFT", "qty": "5", "fast": "5", "slow": "20", "interval": "500ms"},
			Risk: RiskConfig{MaxOrderNotional: "10000", MaxPositionQty: "100", MaxOpenOrders: 5, DailyLossLimit: "2000"}},
		{ID: "demo-rebalance", Strategy: rebalance.Name, Params: strategy.Params{"targets": "AAPL:0.4,NVDA:0.3,JPM:0.3", "budget": "20000", "interval": "5s"},
			Risk: RiskConfig{MaxOrderNotional: "20000", MaxOpenOrders: 10}},
	}
	return cfg
}
