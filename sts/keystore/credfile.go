package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/mfabridge/mfabridge/internal/regfile"
	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/awsconfig/configfile"
)

const (
	keyID     = "aws_access_key_id"
	keySecret = "aws_secret_access_key"
	keyToken  = "aws_session_token"
)

// CredentialsFile is the plaintext shared credentials file
// (~/.aws/credentials): what AWS tools read, and what mfabridge read before
// the other stores existed.
type CredentialsFile struct {
	path string
	o    options
}

// NewCredentialsFile returns the store for the credentials file at path
// (cmd resolves AWS_SHARED_CREDENTIALS_FILE and the home folder).
func NewCredentialsFile(path string, opts ...Option) *CredentialsFile {
	return &CredentialsFile{path: path, o: buildOptions(opts)}
}

// Path is the file the store reads and edits.
func (c *CredentialsFile) Path() string { return c.path }

func (c *CredentialsFile) read() ([]byte, error) {
	data, err := regfile.Read(c.path, 16<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// Get reads aws_access_key_id, aws_secret_access_key and aws_session_token
// of section [profile].
func (c *CredentialsFile) Get(_ context.Context, profile string) (Key, error) {
	data, err := c.read()
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, err)
	}
	vals, _, err := awsconfig.CredentialsKeys(data, profile, keyID, keySecret, keyToken)
	if err != nil {
		return Key{}, fmt.Errorf("get key of %s: %w", profile, err)
	}
	if vals[keyID] == "" {
		return Key{}, fmt.Errorf("get key of %s: %w in %s", profile, ErrNotFound, c.path)
	}
	if vals[keySecret] == "" {
		return Key{}, fmt.Errorf("get key of %s: %w: %s has %s without %s", profile, ErrBadKey, c.path, keyID, keySecret)
	}
	return Key{AccessKeyID: vals[keyID], SecretAccessKey: vals[keySecret], SessionToken: vals[keyToken]}, nil
}

// Put writes the key into section [profile], editing only the key lines
// (a session token line is removed when k has none).
func (c *CredentialsFile) Put(_ context.Context, profile string, k Key) error {
	if err := checkProfile("put key", profile); err != nil {
		return err
	}
	if err := checkKey("put key", profile, k); err != nil {
		return err
	}
	data, err := c.read()
	if err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	set := []awsconfig.Setting{{Key: keyID, Value: k.AccessKeyID}, {Key: keySecret, Value: k.SecretAccessKey}}
	if k.SessionToken != "" {
		set = append(set, awsconfig.Setting{Key: keyToken, Value: k.SessionToken})
	} else {
		if data, _, err = awsconfig.RemoveCredentialsKeys(data, profile, keyToken); err != nil {
			return fmt.Errorf("put key of %s: %w", profile, err)
		}
	}
	out, err := awsconfig.SetCredentialsKeys(data, profile, set)
	if err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	if err := configfile.Write(c.path, out); err != nil {
		return fmt.Errorf("put key of %s: %w", profile, err)
	}
	c.o.logger.Debug("key stored in credentials file", "profile", profile, "file", c.path, "key", k)
	return nil
}

// Delete removes the profile's aws_access_key_id, aws_secret_access_key and
// aws_session_token lines; the section header and every other byte of the
// file stay as they were. The file is replaced atomically (no backup).
func (c *CredentialsFile) Delete(_ context.Context, profile string) error {
	data, err := c.read()
	if err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	out, n, err := awsconfig.RemoveCredentialsKeys(data, profile, keyID, keySecret, keyToken)
	if err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	if n == 0 {
		return fmt.Errorf("delete key of %s: %w in %s", profile, ErrNotFound, c.path)
	}
	if err := configfile.Write(c.path, out); err != nil {
		return fmt.Errorf("delete key of %s: %w", profile, err)
	}
	c.o.logger.Debug("key removed from credentials file", "profile", profile, "file", c.path)
	return nil
}

// List returns every section with an aws_access_key_id (Created is zero:
// the file does not record it).
func (c *CredentialsFile) List(context.Context) ([]Entry, error) {
	data, err := c.read()
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	secs, err := awsconfig.CredentialsSections(data, keyID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]Entry, 0, len(secs))
	for _, s := range secs {
		out = append(out, Entry{Profile: s[0], AccessKeyID: s[1]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out, nil
}
