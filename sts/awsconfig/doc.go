// Package awsconfig reads the AWS shared config and credentials files
// (LoadProfiles, ParseProfiles), resolves a profile into what the
// credentials provider needs (Config.Resolve, Profile), and edits the config
// file in memory without disturbing the bytes it does not change
// (SetProfileKeys, ReplaceMFASerial; package configfile writes it back).
//
// Errors: a malformed file is an *INISyntaxError naming the file and line;
// a profile that cannot be used is a *ProfileError that unwraps to one of
// the Err* sentinels (ErrUnknownProfile, ErrNoMFASerial, …); file system
// failures are wrapped with %w.
//
// The package reads no environment variables (the caller passes an Env),
// prints nothing, never exits, and imports none of mfabridge's packages
// except internal/ helpers.
package awsconfig
