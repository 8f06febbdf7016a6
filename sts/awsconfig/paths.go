package awsconfig

// homeDir is the user's home directory as os.UserHomeDir finds it, from env:
// %USERPROFILE% on Windows, $HOME elsewhere; "" when unset.
func homeDir(goos string, env Env) string {
	if goos == "windows" {
		return env("USERPROFILE")
	}
	return env("HOME")
}
