// Package domains holds what sending domains need beyond storage: the DNS
// records a domain must publish (one definition, used both to show them
// and to verify them), its DKIM keys, and the verifier that checks the
// records against DNS in the background.
package domains

import (
	"crypto"
	"fmt"
	"net"
	"strings"

	"github.com/godwit/godwit/internal/dkim"
	"github.com/godwit/godwit/internal/store"
	"golang.org/x/net/idna"
)

// Sealer encrypts secrets bound to a row (secretbox.Box).
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
}

// Settings are the operator's settings that shape every domain's records.
type Settings struct {
	Keys         Sealer // seals DKIM private keys at rest
	MXHost       string // receives bounces for the return-path subdomains
	SPF          string // the TXT value at the return-path subdomain
	DKIMSelector string // default dkim.DefaultSelector
	Ed25519      bool   // new domains also get an Ed25519 key
	DMARCReport  string // address suggested for DMARC aggregate reports (default dmarc@<domain>)
}

// Record kinds: the keys of store.Domain.RecordStatus.
const (
	KindDKIM        = store.RecordDKIM
	KindDKIMEd25519 = store.RecordDKIMEd25519
	KindSPFMX       = store.RecordSPFMX
	KindSPFTXT      = store.RecordSPFTXT
	KindDMARC       = store.RecordDMARC
	KindReceiving   = store.RecordReceiving
)

// Capabilities of a domain.
const (
	Sending   = store.CapabilitySending
	Receiving = store.CapabilityReceiving
)

// Capable reports whether d has capability c enabled (store.Domain.Capable).
func Capable(d *store.Domain, c string) bool { return d.Capable(c) }

// Ready reports whether d may be used for capability c now
// (store.Domain.Ready).
func Ready(d *store.Domain, c string) bool { return d.Ready(c) }

// Record is one DNS record a domain publishes.
type Record struct {
	Kind     string
	Record   string // Resend's label: DKIM, SPF, DMARC
	Name     string // relative to the domain
	Type     string // TXT or MX
	Value    string
	Priority int  // MX only
	Optional bool // suggested; verification does not require it
}

// FQDN is the record's full name; a record at the domain itself has the
// domain's name as its Name (as Resend shows the receiving MX record).
func (r Record) FQDN(domain string) string {
	if r.Name == domain {
		return domain
	}
	return r.Name + "." + domain
}

// Records lists the records of d's enabled capabilities, with the DKIM
// values derived from its keys: DKIM, SPF and DMARC for sending, the MX
// record of the domain itself for receiving.
func (s Settings) Records(d *store.Domain) ([]Record, error) {
	var recs []Record
	if Capable(d, Sending) {
		var err error
		if recs, err = s.sendingRecords(d); err != nil {
			return nil, err
		}
	}
	if Capable(d, Receiving) {
		// Mail for the domain comes to this server's MX (--mx-host, the
		// bounce host of the return paths too).
		recs = append(recs, Record{Kind: KindReceiving, Record: "Receiving", Name: d.Name, Type: "MX", Value: s.MXHost, Priority: 10})
	}
	return recs, nil
}

func (s Settings) sendingRecords(d *store.Domain) ([]Record, error) {
	recs := []Record{{Kind: KindDKIM, Record: "DKIM", Name: d.DKIMSelector + "._domainkey", Type: "TXT"}}
	if d.DKIMEd25519Key != nil {
		recs = append(recs, Record{Kind: KindDKIMEd25519, Record: "DKIM", Name: d.DKIMSelector + dkim.Ed25519SelectorSuffix + "._domainkey", Type: "TXT"})
	}
	for i := range recs {
		sealed := d.DKIMKey
		if recs[i].Kind == KindDKIMEd25519 {
			sealed = d.DKIMEd25519Key
		}
		v, err := s.publicKeyRecord(d.ID, sealed)
		if err != nil {
			return nil, err
		}
		recs[i].Value = v
	}
	// A policy that only reports: aggregate reports go to --dmarc-report,
	// or to the domain's own dmarc@ mailbox.
	report := s.DMARCReport
	if report == "" {
		report = "dmarc@" + d.Name
	}
	dmarc := "v=DMARC1; p=none; rua=mailto:" + report + ";"
	return append(recs,
		Record{Kind: KindSPFMX, Record: "SPF", Name: d.ReturnPath, Type: "MX", Value: s.MXHost, Priority: 10},
		Record{Kind: KindSPFTXT, Record: "SPF", Name: d.ReturnPath, Type: "TXT", Value: s.SPF},
		Record{Kind: KindDMARC, Record: "DMARC", Name: "_dmarc", Type: "TXT", Value: dmarc, Optional: true},
	), nil
}

// Object is Resend's record object, as the API shows it and as domain
// events carry it.
type Object struct {
	Record   string `json:"record"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	TTL      string `json:"ttl"`
	Status   string `json:"status"`
	Value    string `json:"value"`
	Priority *int   `json:"priority,omitempty"`
	// Optional marks a suggested record that verification does not require (Godwit's addition).
	Optional bool `json:"optional,omitempty"`
}

// Objects renders records with the domain's statuses.
func Objects(d *store.Domain, recs []Record) []Object {
	out := make([]Object, 0, len(recs))
	for _, rec := range recs {
		obj := Object{Record: rec.Record, Name: rec.Name, Type: rec.Type, TTL: "Auto", Value: rec.Value,
			Status: d.RecordStatus[rec.Kind], Optional: rec.Optional}
		if obj.Status == "" {
			obj.Status = store.DomainNotStarted
		}
		if rec.Type == "MX" {
			p := rec.Priority
			obj.Priority = &p
		}
		out = append(out, obj)
	}
	return out
}

// NewKeys generates the domain's DKIM keys and seals them to its id.
func (s Settings) NewKeys(domainID string) (rsaKey, ed25519Key []byte, err error) {
	if rsaKey, err = s.newSealedKey(domainID, false); err != nil {
		return nil, nil, err
	}
	if s.Ed25519 {
		if ed25519Key, err = s.newSealedKey(domainID, true); err != nil {
			return nil, nil, err
		}
	}
	return rsaKey, ed25519Key, nil
}

func (s Settings) newSealedKey(domainID string, ed bool) ([]byte, error) {
	var key crypto.Signer
	var err error
	if ed {
		key, err = dkim.GenerateEd25519()
	} else {
		key, err = dkim.GenerateRSA()
	}
	if err != nil {
		return nil, fmt.Errorf("generate dkim key: %w", err)
	}
	der, err := dkim.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dkim key: %w", err)
	}
	sealed, err := s.Keys.Seal(der, []byte(domainID))
	if err != nil {
		return nil, fmt.Errorf("seal dkim key: %w", err)
	}
	return sealed, nil
}

// PrivateKey opens a sealed DKIM key of the domain with the given id.
func (s Settings) PrivateKey(domainID string, sealed []byte) (crypto.Signer, error) {
	der, err := s.Keys.Open(sealed, []byte(domainID))
	if err != nil {
		return nil, fmt.Errorf("open dkim key of domain %s: %w", domainID, err)
	}
	key, err := dkim.ParsePrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse dkim key of domain %s: %w", domainID, err)
	}
	return key, nil
}

func (s Settings) publicKeyRecord(domainID string, sealed []byte) (string, error) {
	key, err := s.PrivateKey(domainID, sealed)
	if err != nil {
		return "", err
	}
	return dkim.RecordValue(key.Public())
}

// NormalizeName validates a domain name and returns its lower-case ASCII
// (punycode) form; ok is false for IP literals, trailing dots, single
// labels and anything that is not a host name.
func NormalizeName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	if name == "" || strings.HasSuffix(name, ".") || net.ParseIP(strings.Trim(name, "[]")) != nil {
		return "", false
	}
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil || len(ascii) > 253 || !strings.Contains(ascii, ".") {
		return "", false
	}
	ascii = strings.ToLower(ascii)
	for _, label := range strings.Split(ascii, ".") {
		if !ValidLabel(label) {
			return "", false
		}
	}
	return ascii, true
}

// ValidLabel reports whether s is one DNS label (letters, digits, hyphens; 1–63).
func ValidLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
