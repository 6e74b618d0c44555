package alpaca

import (
	"time"

	"github.com/shopspring/decimal"
)

// Broker API wire types. Like the trading types they mirror Alpaca's JSON
// field for field, so that the simulator can serve them as they are.

// AccountStatus is a Broker API account's place in its lifecycle.
type AccountStatus string

// The account statuses a client acts on; Alpaca has more intermediate
// ones (see broker.yaml), which arrive as they are.
const (
	AccountSubmitted      AccountStatus = "SUBMITTED"
	AccountActionRequired AccountStatus = "ACTION_REQUIRED"
	AccountApproved       AccountStatus = "APPROVED"
	AccountRejected       AccountStatus = "REJECTED"
	AccountActive         AccountStatus = "ACTIVE"
	AccountDisabled       AccountStatus = "DISABLED"
	AccountClosed         AccountStatus = "ACCOUNT_CLOSED"
)

// Contact is an account owner's contact information.
type Contact struct {
	EmailAddress  string   `json:"email_address"`
	PhoneNumber   string   `json:"phone_number,omitempty"`
	StreetAddress []string `json:"street_address,omitempty"`
	Unit          string   `json:"unit,omitempty"`
	City          string   `json:"city,omitempty"`
	State         string   `json:"state,omitempty"`
	PostalCode    string   `json:"postal_code,omitempty"`
	Country       string   `json:"country,omitempty"`
}

// Identity is an account owner's identity, as KYC needs it. TaxID is
// personal data: the client sends it and never logs it; neither should
// callers.
type Identity struct {
	GivenName             string   `json:"given_name"`
	MiddleName            string   `json:"middle_name,omitempty"`
	FamilyName            string   `json:"family_name"`
	DateOfBirth           string   `json:"date_of_birth"` // YYYY-MM-DD
	TaxID                 string   `json:"tax_id,omitempty"`
	TaxIDType             string   `json:"tax_id_type,omitempty"`
	CountryOfCitizenship  string   `json:"country_of_citizenship,omitempty"`
	CountryOfBirth        string   `json:"country_of_birth,omitempty"`
	CountryOfTaxResidence string   `json:"country_of_tax_residence"`
	FundingSource         []string `json:"funding_source"`
}

// Disclosures are the owner's answers to FINRA's questions; a true one
// sends the application to manual review (ACTION_REQUIRED).
type Disclosures struct {
	IsControlPerson             bool   `json:"is_control_person"`
	IsAffiliatedExchangeOrFINRA bool   `json:"is_affiliated_exchange_or_finra"`
	IsPoliticallyExposed        bool   `json:"is_politically_exposed"`
	ImmediateFamilyExposed      bool   `json:"immediate_family_exposed"`
	EmploymentStatus            string `json:"employment_status,omitempty"`
}

// Agreement records that the owner signed one of Alpaca's agreements.
type Agreement struct {
	// Agreement is "customer_agreement", "account_agreement",
	// "margin_agreement" or "crypto_agreement".
	Agreement string    `json:"agreement"`
	SignedAt  time.Time `json:"signed_at"`
	IPAddress string    `json:"ip_address"`
	Revision  string    `json:"revision,omitempty"`
}

// TrustedContact is someone Alpaca may contact about the account.
type TrustedContact struct {
	GivenName    string `json:"given_name"`
	FamilyName   string `json:"family_name"`
	EmailAddress string `json:"email_address,omitempty"`
	PhoneNumber  string `json:"phone_number,omitempty"`
}

// CreateAccountRequest is the application of POST /v1/accounts.
type CreateAccountRequest struct {
	Contact        Contact         `json:"contact"`
	Identity       Identity        `json:"identity"`
	Disclosures    Disclosures     `json:"disclosures"`
	Agreements     []Agreement     `json:"agreements"`
	TrustedContact *TrustedContact `json:"trusted_contact,omitempty"`
	// AccountType is "trading" (the default), "custodial" or
	// "donor_advised".
	AccountType string `json:"account_type,omitempty"`
	// EnabledAssets is, for example, ["us_equity"]; the server's default
	// when empty.
	EnabledAssets []string `json:"enabled_assets,omitempty"`
}

// BrokerAccount is a customer account of a Broker API firm. The list
// route returns the summary fields; the single-account routes fill in
// Contact, Identity, Disclosures and Agreements as well.
type BrokerAccount struct {
	ID            string          `json:"id"`
	AccountNumber string          `json:"account_number"`
	Status        AccountStatus   `json:"status"`
	CryptoStatus  AccountStatus   `json:"crypto_status,omitempty"`
	Currency      string          `json:"currency"`
	LastEquity    decimal.Decimal `json:"last_equity"`
	CreatedAt     time.Time       `json:"created_at"`
	AccountType   string          `json:"account_type,omitempty"`
	EnabledAssets []string        `json:"enabled_assets,omitempty"`

	Contact        *Contact        `json:"contact,omitempty"`
	Identity       *Identity       `json:"identity,omitempty"`
	Disclosures    *Disclosures    `json:"disclosures,omitempty"`
	Agreements     []Agreement     `json:"agreements,omitempty"`
	TrustedContact *TrustedContact `json:"trusted_contact,omitempty"`
}

// Journal entry types.
const (
	// JournalCash (JNLC) moves cash between two accounts.
	JournalCash = "JNLC"
	// JournalSecurities (JNLS) moves shares between two accounts.
	JournalSecurities = "JNLS"
)

// JournalStatus is a journal's place in its lifecycle.
type JournalStatus string

// Journal statuses.
const (
	JournalQueued   JournalStatus = "queued"
	JournalPending  JournalStatus = "pending"
	JournalExecuted JournalStatus = "executed"
	JournalCanceled JournalStatus = "canceled"
	JournalRejected JournalStatus = "rejected"
	JournalDeleted  JournalStatus = "deleted"
)

// JournalRequest is the body of POST /v1/journals: Amount for a cash
// journal (JNLC), Symbol and Qty for a securities journal (JNLS).
type JournalRequest struct {
	EntryType   string           `json:"entry_type"`
	FromAccount string           `json:"from_account"`
	ToAccount   string           `json:"to_account"`
	Amount      *decimal.Decimal `json:"amount,omitempty"`
	Symbol      string           `json:"symbol,omitempty"`
	Qty         *decimal.Decimal `json:"qty,omitempty"`
	Description string           `json:"description,omitempty"`
}

// Journal is a movement of cash or shares between two accounts of a firm.
type Journal struct {
	ID          string           `json:"id"`
	EntryType   string           `json:"entry_type"`
	FromAccount string           `json:"from_account"`
	ToAccount   string           `json:"to_account"`
	Status      JournalStatus    `json:"status"`
	SettleDate  *string          `json:"settle_date"` // YYYY-MM-DD
	SystemDate  *string          `json:"system_date"` // YYYY-MM-DD
	NetAmount   *decimal.Decimal `json:"net_amount"`
	Symbol      *string          `json:"symbol"`
	Qty         *decimal.Decimal `json:"qty"`
	Price       *decimal.Decimal `json:"price"`
	Description string           `json:"description"`
}

// Transfer directions.
const (
	TransferIncoming = "INCOMING" // a deposit
	TransferOutgoing = "OUTGOING" // a withdrawal
)

// TransferStatus is a transfer's place in its lifecycle.
type TransferStatus string

// The transfer statuses a client acts on.
const (
	TransferQueued   TransferStatus = "QUEUED"
	TransferPending  TransferStatus = "PENDING"
	TransferRejected TransferStatus = "REJECTED"
	TransferCanceled TransferStatus = "CANCELED"
	TransferComplete TransferStatus = "COMPLETE"
	TransferReturned TransferStatus = "RETURNED"
)

// TransferRequest is the body of POST /v1/accounts/{account_id}/transfers.
// The sandbox supports TransferType "ach" only, with RelationshipID an ACH
// relationship of the account.
type TransferRequest struct {
	TransferType   string          `json:"transfer_type"`
	RelationshipID string          `json:"relationship_id,omitempty"`
	BankID         string          `json:"bank_id,omitempty"`
	Amount         decimal.Decimal `json:"amount"`
	Direction      string          `json:"direction"`
	// Timing is "immediate", the only value Alpaca supports; sent as
	// that when empty.
	Timing                string `json:"timing"`
	AdditionalInformation string `json:"additional_information,omitempty"`
}

// Transfer is money moved between an account and the outside world.
type Transfer struct {
	ID                    string          `json:"id"`
	AccountID             string          `json:"account_id"`
	RelationshipID        *string         `json:"relationship_id"`
	Type                  string          `json:"type"`
	Status                TransferStatus  `json:"status"`
	Reason                *string         `json:"reason"`
	Amount                decimal.Decimal `json:"amount"`
	Direction             string          `json:"direction"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             *time.Time      `json:"updated_at"`
	ExpiresAt             *time.Time      `json:"expires_at"`
	AdditionalInformation *string         `json:"additional_information"`
}
