package sts

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// SourceKeysFunc returns the long-term access key of a source profile whose
// key is kept in a store (Source.KeyStore set, mfabridge_keys). cmd binds it
// to the store the profile names; it may prompt (a passphrase, a PIN) and
// reach a card, so the Provider calls it only when an STS call needs the
// source key: once per MFA session, never for a cached answer or a role
// called with session credentials.
type SourceKeysFunc func(ctx context.Context, src awsconfig.Source) (aws.Credentials, error)

// ErrNoSourceKeys: the profile's key is in a store and the Provider was
// given no WithSourceKeys function to fetch it.
var ErrNoSourceKeys = errors.New("no way to read the source key from its store")

// WithSourceKeys sets how keys kept in a store (mfabridge_keys) are read.
func WithSourceKeys(f SourceKeysFunc) Option { return func(p *Provider) { p.sourceKeys = f } }

// storedSourceCredentials fetches a source key from its store. The key stays
// in memory only, for the calls of this Credentials run.
func (pr *Provider) storedSourceCredentials(ctx context.Context, src awsconfig.Source) (*Credentials, error) {
	if pr.sourceKeys == nil {
		return nil, fmt.Errorf("read key of profile %q from %s: %w", src.Profile, src.KeyStore, ErrNoSourceKeys)
	}
	k, err := pr.sourceKeys(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read key of profile %q from %s: %w", src.Profile, src.KeyStore, err)
	}
	if k.AccessKeyID == "" || k.SecretAccessKey == "" {
		return nil, fmt.Errorf("read key of profile %q from %s: the store returned an empty key", src.Profile, src.KeyStore)
	}
	return &Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, SessionToken: k.SessionToken}, nil
}
