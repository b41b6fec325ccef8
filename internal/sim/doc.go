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
// bring it back; DegradeZone gives a zone a gray failure: its instances pass
// their status checks while a fraction of the health checks and requests to
// its targets time out and its responses slow down. FailImage makes an
// image fail to pull, exit, fail its health checks or ignore SIGTERM.
//
// # Events
//
// Events, EventLog and Subscribe expose EventBridge events. The simulator
// emits the typed details of internal/events, whose parsers the handlers
// use, so the two cannot drift apart; each is shaped like AWS's documented
// example, kept in the repository's events/ directory: "EC2 Instance
// State-change Notification" (aws.ec2); "EC2 Instance-launch Lifecycle
// Action", "EC2 Instance-terminate Lifecycle Action", "EC2 Instance Launch
// Successful", "EC2 Instance Launch Unsuccessful" and "EC2 Instance Terminate
// Successful" (aws.autoscaling); "ECS Deployment State Change", "ECS Service
// Action", "ECS Task State Change" and "ECS Container Instance State Change"
// (aws.ecs); "CloudWatch Alarm State Change" (aws.cloudwatch); "ECR Image
// Action" (aws.ecr).
//
// # Observing every step
//
// Observe hands a Snapshot of the fleet (instances with their EC2 and Auto
// Scaling states, tasks with their status, stop code and target ID, and
// every target with the health DescribeTargetHealth reports) to a callback
// after every step: each timer that fires and each API call answered. A
// test checks invariants with it at every moment of a scenario, such as no
// task stopping while its target still takes or drains traffic, rather
// than at the moments it polls. With no observer, a step costs nothing
// more.
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
// a zone that refused a launch every 5 minutes. Timings.Services has ECS's:
// a container instance registers 20s after its instance runs, a task spends
// 5s provisioning and 10s pulling, its containers exit 2s after SIGTERM (or
// are killed at their stopTimeout, 30s by default, when they ignore it), the
// scheduler reacts to an unhealthy target in 10s and retries a placement in
// 30s, and a load balancer provisions in 2 minutes.
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
//   - A new VPC's default security group admits all traffic from itself,
//     as AWS documents; moto gives it the outbound rule only.
//   - DescribeInstanceTypeOfferings lists a small table of current types
//     (ec2_offerings.go), each offered in every zone: AWS publishes which
//     types a Region has but no table by zone, so the simulator chooses
//     "every zone" and lets a test take a type out of one
//     (WithdrawOffering), as older zones lack some types. moto answers from
//     a recorded table of AWS's real offerings. RunInstances does not
//     consult the table: any type launches.
//   - Behaviour moto does not model at all: instances move through pending,
//     running, shutting-down and terminated over time; lifecycle hooks hold
//     instances in Pending:Wait and Terminating:Wait until completed,
//     extended by heartbeats or ended by their timeout's default result;
//     groups replace unhealthy instances, honour suspended processes and
//     rebalance after a zone recovers. When a zone fails, the group keeps
//     its instances there (marked unhealthy) while it launches replacements
//     in an unaffected zone, its launches into the failed zone failing, and
//     terminates them once the replacements are in service ("Availability
//     Zone outage", ec2-auto-scaling-availability-zone-balanced.html); a
//     single failed instance is terminated, then replaced. Completing one of
//     an instance's hooks with ABANDON ends the others at once
//     (completing-lifecycle-hooks.html); a hook nothing completes applies
//     its default result (ABANDON unless set) at its heartbeat timeout.
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
//
// # ECS, load balancing, alarms and service auto scaling
//
// The fleet side simulates ECS on EC2 (ecs_*.go), Application Load Balancers
// (elbv2_*.go), CloudWatch metrics and alarms (cloudwatch*.go) and
// Application Auto Scaling of a service's desired count (appautoscaling.go),
// with the durations in Timings.Services:
//
//   - An instance whose user data sets ECS_CLUSTER (or that runs the
//     ECS-optimized AMI, for the default cluster) registers as a container
//     instance AgentRegistration after it is running, with the
//     ecs.availability-zone attribute and its type's CPU and memory. A failed
//     host's agent disconnects after AgentDisconnect; a terminating instance
//     deregisters and its tasks stop. ACTIVE and DRAINING are set with
//     UpdateContainerInstancesState, or by managed draining when the group
//     terminates the instance.
//   - Tasks move through PROVISIONING, PENDING, RUNNING, DEACTIVATING (while
//     their targets drain), STOPPING, DEPROVISIONING and STOPPED, with a stop
//     reason and stop code. awsvpc tasks take an address in a subnet of their
//     instance's zone and register it as an ip target.
//   - The service scheduler keeps at most maximumPercent of the desired
//     count and stops replaced tasks (older deployments, draining instances)
//     only while at least minimumHealthyPercent stay healthy; healthy means
//     running and healthy in every target group. Placement spreads by zone,
//     then instance, unless the service gives strategies; memberOf (a subset
//     of the cluster query language) and distinctInstance constraints apply.
//     With Availability Zone rebalancing (on for new services, as on AWS) a
//     steady service whose tasks are uneven across the zones it can use
//     starts a task in the emptiest zone and, once it is healthy, stops one
//     in the fullest.
//   - UpdateService starts a deployment when the task definition, network
//     configuration, load balancers, placement or capacity provider strategy
//     change, or when forced. A deployment is IN_PROGRESS until its tasks are
//     healthy and the tasks it replaced have stopped, then COMPLETED. The
//     circuit breaker fails it after max(3, min(200, ceil(0.5 × desired)))
//     failed tasks (or its threshold configuration). A deployment alarm in
//     ALARM fails it too, unless one of them was in ALARM when it started:
//     then ECS does not watch its alarms at all (Copilot's manifest
//     reference, rollback_alarms). A failed deployment starts no task; with
//     rollback, a new deployment returns to the last completed one, adopting
//     its running tasks, and is never rolled back itself.
//   - The circuit breaker counts a deployment's tasks that fail to start,
//     exit before turning healthy, or fail their health checks after the
//     grace period; a task that turns healthy resets the count unless
//     resetOnHealthyTask is false (API_DeploymentCircuitBreaker.html).
//     DescribeServices echoes the whole breaker configuration. The failure
//     reason names what happened: "task failed to start." as documented;
//     "task exited before it turned healthy." and "task failed health
//     checks." are the simulator's own texts.
//   - Each deployment is a service deployment (ListServiceDeployments,
//     DescribeServiceDeployments): IN_PROGRESS, SUCCESSFUL,
//     ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED once the
//     circuit breaker, a deployment alarm or StopServiceDeployment (stop type
//     ROLLBACK, also without configured rollback) rolled it back, with the
//     rollback's reason and revision; STOPPED when it failed without
//     rollback, or, the simulator's choice, when a newer deployment replaced
//     it unfinished. Its circuit breaker monitor reports the failure count
//     and threshold, its alarms monitor the alarms that triggered. A rollback
//     belongs to the deployment it rolls back. A stopped deployment emits
//     SERVICE_DEPLOYMENT_FAILED with the simulator's own reason.
//   - Target groups check each target every interval from registration: a
//     new target turns healthy after passing one check, a target that was
//     unhealthy after the healthy threshold of passing ones, and any target
//     unhealthy after the unhealthy threshold of failing ones
//     (target-group-health-checks.html); a target whose zone the load
//     balancer does not use is unused; a deregistered target drains for the
//     deregistration delay. ECS stops a task whose target is unhealthy
//     HealthReaction later, unless it is in its grace period.
//   - Once a minute the fleet publishes AWS/ECS CPUUtilization and
//     MemoryUtilization per service, AWS/ApplicationELB HealthyHostCount and
//     UnHealthyHostCount per target group and zone, RequestCount,
//     HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count with its 502, 503 and
//     504 parts, and TargetResponseTime, and CapacityProviderReservation; then
//     managed scaling sets the Auto Scaling group's desired capacity and every
//     alarm evaluates. Requests go to healthy targets; a group with none
//     routes to all its targets (fail open; the simulator counts initial
//     targets among them); with no target the load balancer answers 503.
//     Only 5xx answers from targets count as target 5xx; a target whose
//     containers are not running counts as the load balancer's 502, one that
//     does not answer in time as its 504 (load-balancer-cloudwatch-metrics
//     .html). TargetRequests shows which targets received the last minute's
//     requests.
//   - An alarm looks at its evaluation range, its evaluation periods plus two
//     (AWS gives no number; its documentation's example has 3 and 5): at
//     least N real datapoints decide alone; with none, missing goes
//     INSUFFICIENT_DATA, ignore keeps the state, breaching alarms and
//     notBreaching is OK; otherwise breaching and notBreaching fill the
//     missing ones as their names say, while with missing and ignore a real
//     datapoint within the threshold decides OK unless enough breach, and
//     when every real datapoint breaches but too few to alarm, missing
//     alarms if the oldest is at least datapoints-to-alarm periods old
//     ("Avoiding premature transitions to alarm state") and is
//     INSUFFICIENT_DATA otherwise, and ignore keeps the state. The test
//     holds both of the page's tables row for row
//     (alarms-and-missing-data.html).
//   - Target tracking policies work through the two alarms they create, as
//     on AWS. The new desired count is the running task count scaled by
//     metric / target; a scale-out proceeds whenever it asks for more than
//     the desired count, also in the scale-out cooldown; scale-in waits for
//     its cooldown and for any ECS deployment in progress to finish
//     (service-auto-scaling.html, target-tracking-scaling-policy-overview
//     .html).
//   - The scheduler emits "ECS Service Action" events: SERVICE_STEADY_STATE
//     when a service reaches a steady state (once, not periodically),
//     SERVICE_TASK_PLACEMENT_FAILURE when the reason it cannot place a task
//     changes, and SERVICE_TASK_START_IMPAIRED after 3 of its tasks in a row
//     failed to start or turn healthy (AWS gives no number; the simulator
//     takes the breaker's minimum threshold). Deployment events carry the
//     cluster's ARN.
//   - A minimal ECR: CreateRepository, DescribeRepositories, DescribeImages
//     (by tag or digest, with RepositoryNotFoundException and
//     ImageNotFoundException) and PutImage, whose digest is the SHA-256 of
//     the manifest and which emits "ECR Image Action"; PushImage pushes a
//     manifest derived from the repository, tag and push count, so the same
//     pushes give the same digests. Tasks run images by tag or digest; an
//     image of a repository the simulated ECR has must have been pushed, or
//     its pull fails; images of other registries always pull. FailImage on a
//     pushed image's tag or digest follows the image.

// FailImage makes an image's tasks fail to pull, exit after starting, fail
// their health checks or ignore SIGTERM. SetServiceLoad and SetTraffic drive
// the metrics. "ECS Container Instance State Change" events
// come on registration, status and agent connection changes, not on each
// task placement; like the documented example they name attributes without
// their values.
//
// # Zonal shift
//
// ARC zonal shift (arczonalshift.go) serves StartZonalShift,
// UpdateZonalShift, CancelZonalShift, ListZonalShifts and
// GetManagedResource for the managed resources the simulator has: an
// Application Load Balancer that is active with its
// zonal_shift.config.enabled attribute true, and an Auto Scaling group
// whose AvailabilityZoneImpairmentPolicy enables zonal shift (which
// requires its ImpairedZoneHealthCheckBehavior). A shift names the zone by
// its ID (use1-az1, as ZoneID gives it), expires in a whole number of
// minutes or hours up to 72 hours, can be updated (a new comment, a new
// expiry from now) and cancelled while ACTIVE, and ends EXPIRED at its
// expiry on the virtual clock. A resource has one active shift: another
// from the same zone is ZonalShiftAlreadyExists, one from another zone
// SimultaneousZonalShiftsConflict; an unknown or unmanaged resource or
// shift is ResourceNotFoundException; a bad expiry, zone or identifier is a
// ValidationException with its reason (API_StartZonalShift.html and the
// pages of the other operations). What a shift does:
//
//   - a load balancer sends the zone's targets no requests; they keep their
//     health checks and report the AdministrativeOverride zonal_shift_active
//     (zonal_shift_delegated_to_dns when their target group turns cross-zone
//     load balancing off), every other target no_override
//     (zonal-shift.html, API_AdministrativeOverride.html). A group with no
//     healthy target fails open over all its targets, the shifted zone's
//     too: "When a Network Load Balancer or Application Load Balancer is in
//     a fail open state, a zonal shift will have no effect"
//     (arc-zonal-shift.resource-types.html);
//   - a group treats the zone as impaired (ec2-auto-scaling-zonal-shift.html):
//     it launches no instance there, balances its zones without it, and
//     with IgnoreUnhealthy leaves its unhealthy instances there alone; once
//     the shift ends it rebalances into the zone, launching before it
//     terminates.
//
// The load balancer also reports HTTPCode_ELB_5XX_Count per
// AvailabilityZone and LoadBalancer, and HTTPCode_Target_5XX_Count per
// AvailabilityZone, LoadBalancer and TargetGroup, as CloudWatch does
// (load-balancer-cloudwatch-metrics.html): the errors of the requests each
// zone's targets received.
//
// Where AWS documents no figure, the simulator picks one and says so: the
// bake time of an alarm-watched deployment is the longest period × evaluation
// periods among its alarms; managed scaling needs one instance per
// instance's worth of waiting tasks and scales in after 15 low evaluations;
// a service's CPU is its load divided among its running tasks; the reason
// texts of alarm-based failures are the simulator's own; an alarm's
// evaluation range is its evaluation periods plus two; the scheduler reports
// impaired starts after 3 failed tasks in a row; containers that handle
// SIGTERM exit in 2 s; a gray failure's fraction applies to each health check
// at random (from the seed) and to the requests in proportion, and its
// latency is added to every response; an ended zonal shift stays listed for
// a day; when the only healthy targets of a group are in a shifted zone,
// the group routes to its other targets; the AdministrativeOverride
// descriptions are the simulator's own.
//
// Differences from moto in these services, checked by the parity suite; in
// each the simulator does what AWS does:
//
//   - DeleteCluster refuses a cluster with active services
//     (ClusterContainsServicesException); moto deletes it.
//   - Deployment IDs are ecs-svc/ and 19 digits; moto's have 18. Services echo
//     their deployment configuration; moto leaves it out.
//   - moto fails CreateService with an awsvpc configuration that names no
//     security group (HTTP 500); AWS uses the VPC's default group. The parity
//     suite names one.
//   - An ALB needs subnets in two zones (ValidationError) and one listener per
//     port (DuplicateListener); moto accepts both. AWS reports the default
//     scheme and the idle timeout attribute; moto does not. A target group
//     lists its load balancer once; moto once per reference.
//   - A new target is initial until its health checks pass; moto reports it
//     healthy at once. A new alarm is INSUFFICIENT_DATA until evaluated; moto
//     starts it OK.
//   - Application Auto Scaling answers an unknown policy or scalable target
//     with ObjectNotFoundException, refuses a policy for an unregistered
//     target, and reports the scalable target's service-linked role; moto
//     answers ValidationException, accepts the policy and reports no role.
//   - moto 5.2.1 does not serve the RPC v2 CBOR protocol that the SDK's
//     CloudWatch client uses by default; the project's clients and the parity
//     suite speak awsQuery, and the simulator answers either.
//   - AWS lists an ALB's zonal_shift.config.enabled attribute, false until
//     enabled; moto lists it only once set. moto ignores a group's
//     AvailabilityZoneImpairmentPolicy and does not serve ARC zonal shift at
//     all, so the parity suite compares the attributes only.
//   - ECR digests are the SHA-256 of the manifest, as registries compute
//     them; moto derives them from the layers. Both are sha256 digests, which
//     is what the parity suite compares.
//   - Behaviour moto does not model at all: container instances, task
//     placement and lifecycles, rolling deployments and their verdicts, the
//     service deployments API (moto 5.2.1 has no ListServiceDeployments,
//     DescribeServiceDeployments or StopServiceDeployment), target health,
//     alarm evaluation and scaling.
//
// Left out, because the control plane does not use them: Fargate, daemon
// services, blue/green and external deployments, task sets, Service Connect,
// bridge and host port mappings, ENI limits per instance, task and cluster
// tagging operations, listener rules, Network and Gateway Load Balancers,
// metric math, anomaly detection and composite alarms, and step and scheduled
// scaling.
package sim
