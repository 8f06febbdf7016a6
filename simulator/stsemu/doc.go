// Package stsemu is a local AWS STS emulator that enforces MFA policy, for
// testing mfabridge (and any AWS SDK or the AWS CLI) without AWS.
//
// It speaks the STS Query API (version 2011-06-15, form-encoded POST or GET
// query, XML answers) behind SigV4 verification, and implements
// GetSessionToken, AssumeRole and GetCallerIdentity with the parameter
// constraints, error codes, HTTP statuses and verbatim messages of real STS
// (see /work/shared/notes/aws-sts.md):
//
//   - Users have long-term access keys, TOTP MFA devices (±1 step; a step
//     once accepted, or any earlier one, is refused with the wrong-code
//     message, RFC 6238 §5.2) and identity policies. Roles have a trust
//     policy, identity policies and a MaxSessionDuration.
//   - Policies: explicit Deny wins, then Allow, else implicit deny. AssumeRole
//     always needs the role's trust policy. Across accounts, and when the
//     trust policy names only the caller's account (or "*"), the caller's
//     identity policy must allow it too; within one account, a trust policy
//     that names the caller's user ARN, role ARN or role session ARN is
//     enough on its own (AWS's same-account rule, see assumeRoleAllowed).
//     Conditions: Bool and Numeric*
//     (and their IfExists forms), and Null, on aws:MultiFactorAuthPresent and
//     aws:MultiFactorAuthAge; anything else is a config error.
//   - MFA context: long-term keys carry no MFA keys; GetSessionToken
//     sessions carry MultiFactorAuthPresent (and Age when MFA was used) into
//     later calls, including AssumeRole without MFA parameters; role
//     sessions carry MultiFactorAuthPresent=false (Config.RoleSessionsCarryMFA
//     switches to the disputed alternative).
//   - AssumeRole from any session is chained and capped at 3600 s;
//     GetSessionToken from session credentials is refused.
//   - A submitted code is consumed when it validates, before the policy
//     decision: a denied AssumeRole still spends the step.
//
// Emulator extension: Action=CheckAccess&Target=ec2:TerminateInstances
// [&Resource=ARN] (signed like any call, service "sts", Version 2011-06-15)
// evaluates the caller's identity policies, session policy and MFA context
// for Target on Resource (default "*"). Allowed: 200 with a
// CheckAccessResponse (Decision "allowed"); denied: 403 AccessDenied
// "User: ARN is not authorized to perform: ACTION on resource: RES". IAM
// actions with non-MFA GetSessionToken credentials answer
// InvalidClientTokenId, as IAM does. Server.Authorize is the same check
// for Go callers.
//
// IAM: requests signed for service "iam" at the same URL are IAM Query API
// calls (version 2010-05-08): CreateVirtualMFADevice, EnableMFADevice (two
// consecutive codes), DeactivateMFADevice, DeleteVirtualMFADevice and
// ListMFADevices, with IAM's parameter checks, error codes and statuses.
// Devices enabled this way serve GetSessionToken and AssumeRole at once;
// deactivated or deleted ones stop working. See iam.go, and
// testdata/iam_self_mfa.json for a policy that lets users manage their own
// MFA devices.
//
// Clocks: WithClock moves the logical clock (expiry, TOTP, MFA age); the
// SigV4 skew window and the Date header follow the real clock, shifted by
// Faults.DateShift.
package stsemu
