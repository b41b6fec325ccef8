// Package sim simulates the AWS behaviour that no available emulator
// reproduces: instances that boot and fail, Auto Scaling groups that balance
// zones and hold instances on lifecycle hooks, NAT gateways that take time,
// zone outages. It plugs into the real aws-sdk-go-v2 clients, so code under
// test cannot tell it from AWS:
//
//	s := sim.New(sim.Options{Seed: 1})
//	ec2Client := ec2.NewFromConfig(s.Config())
//
// # Plumbing
//
// Config installs two smithy-go middlewares in every operation's stack. One,
// at the end of the Initialize step and so after the SDK's input validation,
// keeps the typed input as a stack value. The other, at the end of the
// Finalize step and so after the standard retryer and request signing,
// answers with the typed output or an API error, and never sends a request.
// Errors are smithy.APIError values with AWS's codes, wrapped like the SDK
// wraps an error response (HTTP status, request ID); modelled errors use the
// SDK's generated types (autoscaling's AlreadyExistsFault, ssm's
// ParameterNotFound, …). The retryer is the SDK's standard one with the
// project's attempt budget; only its backoff is mapped onto simulated time.
//
// # Time
//
// Time is virtual and moves only through Advance, RunUntil, or Run, which
// follows wall time at a chosen speed for interactive use. Everything the
// simulator does later (an instance boots, a hook times out) is a timer on
// that clock. Every random choice comes from a generator seeded by
// Options.Seed, and outputs never depend on map order, so the same seed and
// the same calls give the same resources and a byte-identical EventLog.
// Request IDs and throttling draw from a separate generator, so polling and
// retries do not change resource IDs.
//
// # Faults
//
// Throttle and FailCall inject API errors; SetConsistencyDelay hides new
// resources from Describe calls for a while; CrashInstance fails one
// instance's status checks; FailZone and RecoverZone take a zone down and
// bring it back.
//
// # Events
//
// Events, EventLog and Subscribe expose EventBridge events shaped like AWS's
// documented examples: "EC2 Instance State-change Notification" (aws.ec2),
// and "EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate
// Lifecycle Action", "EC2 Instance Launch Successful", "EC2 Instance Launch
// Unsuccessful" and "EC2 Instance Terminate Successful" (aws.autoscaling).
//
// # Adding a service
//
// A service is a set of files that register themselves from init:
// registerService declares its SDK ServiceID and throttling code, handle
// registers one typed handler per operation, and a function appended to
// components builds its state in New and subscribes to other services'
// changes (instanceObservers for EC2 instances, asgState.observers for Auto
// Scaling group members). Handlers run under the simulator's single lock and
// use its clock (after), generators (newID, newUUID) and bus (emit).
//
// # Timings
//
// Timings holds the durations of simulated transitions, defaulting to typical
// AWS values: an instance boots in 30s and shuts down in 30s, its status
// checks initialize for 2 minutes, a NAT gateway is pending for 90s, a group
// reacts to changes in 10s and notices a failed instance in 60s, and retries
// a zone that refused a launch every 5 minutes.
//
// # Differences from moto
//
// The parity suite (package parity) runs the same SDK calls against this
// simulator and moto 5.2.1 and compares ID formats, states, required fields
// and error codes. These differences are deliberate; in each the simulator
// does what AWS does:
//
//   - CreateVpc and CreateSubnet answer with state pending; moto answers
//     available. Describe calls report available in both.
//   - A new VPC reports a dopt- DHCP options ID; moto reports "default".
//   - A NAT gateway is pending for Timings.NATGatewayCreate before it is
//     available, and fails with Gateway.NotAttached in a VPC without an
//     internet gateway; moto makes every NAT gateway available at once.
//   - DescribeNatGateways with an unknown ID fails with NatGatewayNotFound;
//     moto returns an empty list.
//   - NAT gateways report ConnectivityType public; moto leaves it out.
//   - ReleaseAddress refuses an Elastic IP held by a NAT gateway, and
//     DeleteSubnet refuses a subnet holding one (DependencyViolation); moto
//     allows both.
//   - Instances take the launch template's metadata options (IMDSv2
//     required); moto launches them with the optional default.
//   - An Auto Scaling group spreads its instances evenly across its zones;
//     moto puts them all in one zone.
//   - CreateAutoScalingGroup refuses an existing name (AlreadyExists),
//     SetDesiredCapacity refuses a value outside the group's bounds and
//     DeleteAutoScalingGroup refuses a group with instances unless forced
//     (ResourceInUse); moto accepts all three.
//   - CompleteLifecycleAction with an unknown token fails with
//     ValidationError; moto fails with a malformed 500 response.
//   - Behaviour moto does not model at all: instances move through pending,
//     running, shutting-down and terminated over time; lifecycle hooks hold
//     instances in Pending:Wait and Terminating:Wait until completed,
//     extended by heartbeats or ended by their timeout's default result;
//     groups replace unhealthy instances, honour suspended processes and
//     rebalance after a zone recovers.
//
// # Limits
//
// What the simulator leaves out, because the control plane does not use it:
// a default VPC (calls that need one fail with VPCIdNotSpecified, as in an
// account without one), IPv6, network ACLs, VPC endpoints and peering, routes
// to targets other than internet and NAT gateways, instance stop and start,
// network interfaces and volumes in instance descriptions, AMIs (any
// well-formed AMI ID launches), and Auto Scaling launch configurations, mixed
// instances policies, warm pools, instance refresh, scaling policies and
// scheduled actions. Changing a group's subnets affects only later launches;
// existing instances stay where they are. Calls to unimplemented operations fail with
// UnsupportedOperation.
package sim
