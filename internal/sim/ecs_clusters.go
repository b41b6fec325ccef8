package sim

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func init() {
	handle(ecsID, "CreateCluster", (*Sim).createCluster)
	handle(ecsID, "DescribeClusters", (*Sim).describeClusters)
	handle(ecsID, "ListClusters", (*Sim).listClusters)
	handle(ecsID, "DeleteCluster", (*Sim).deleteCluster)
	handle(ecsID, "PutClusterCapacityProviders", (*Sim).putClusterCapacityProviders)
	handle(ecsID, "CreateCapacityProvider", (*Sim).createCapacityProvider)
	handle(ecsID, "DescribeCapacityProviders", (*Sim).describeCapacityProviders)
	handle(ecsID, "UpdateCapacityProvider", (*Sim).updateCapacityProvider)
	handle(ecsID, "DeleteCapacityProvider", (*Sim).deleteCapacityProvider)
}

func (s *Sim) createCluster(in *ecs.CreateClusterInput) (*ecs.CreateClusterOutput, error) {
	name := aws.ToString(in.ClusterName)
	if name == "" {
		name = "default"
	}
	if c, ok := s.ecs.clusters[name]; ok && c.status == "ACTIVE" {
		// CreateCluster is idempotent on ECS: an existing cluster is returned.
		return &ecs.CreateClusterOutput{Cluster: s.clusterOut(c, nil)}, nil
	}
	for _, p := range in.CapacityProviders {
		if _, ok := s.ecs.providers[p]; !ok && p != "FARGATE" && p != "FARGATE_SPOT" {
			return nil, ecsInvalid("The specified capacity provider %s is not in an ACTIVE state. Specify a valid capacity provider and try again.", p)
		}
	}
	settings := in.Settings
	if len(settings) == 0 {
		settings = []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("disabled")}}
	}
	c := &ecsCluster{
		seq: s.ecs.next(), name: name, arn: s.ecsArn("cluster/" + name), status: "ACTIVE",
		providers: append([]string(nil), in.CapacityProviders...), defaultStrategy: in.DefaultCapacityProviderStrategy,
		settings: settings, tags: ecsTags(in.Tags), services: map[string]*ecsService{},
	}
	for _, p := range c.providers {
		if cp, ok := s.ecs.providers[p]; ok {
			cp.cluster = name
		}
	}
	s.ecs.clusters[name] = c
	s.ensureMinuteTick()
	return &ecs.CreateClusterOutput{Cluster: s.clusterOut(c, nil)}, nil
}

func (s *Sim) clusterOut(c *ecsCluster, include []types.ClusterField) *types.Cluster {
	out := &types.Cluster{
		ClusterArn: aws.String(c.arn), ClusterName: aws.String(c.name), Status: aws.String(c.status),
		CapacityProviders: append([]string{}, c.providers...), DefaultCapacityProviderStrategy: append([]types.CapacityProviderStrategyItem{}, c.defaultStrategy...),
		Statistics: []types.KeyValuePair{},
	}
	if slices.Contains(include, types.ClusterFieldSettings) {
		out.Settings = c.settings
	}
	if slices.Contains(include, types.ClusterFieldTags) {
		out.Tags = c.tags
	}
	for _, svc := range c.services {
		if svc.status == "ACTIVE" {
			out.ActiveServicesCount++
		}
	}
	for _, ci := range s.ecs.instances {
		if ci.cluster == c.name && ci.status != "INACTIVE" {
			out.RegisteredContainerInstancesCount++
		}
	}
	for _, t := range s.ecs.tasks {
		if t.cluster != c.name {
			continue
		}
		switch t.lastStatus {
		case "RUNNING":
			out.RunningTasksCount++
		case "PROVISIONING", "PENDING", "ACTIVATING":
			out.PendingTasksCount++
		}
	}
	return out
}

func (s *Sim) describeClusters(in *ecs.DescribeClustersInput) (*ecs.DescribeClustersOutput, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	out := &ecs.DescribeClustersOutput{Clusters: []types.Cluster{}, Failures: []types.Failure{}}
	for _, ref := range refs {
		c, ok := s.ecs.clusters[clusterName(&ref)]
		if !ok {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(s.ecsArn("cluster/" + clusterName(&ref))), Reason: aws.String("MISSING")})
			continue
		}
		out.Clusters = append(out.Clusters, *s.clusterOut(c, in.Include))
	}
	return out, nil
}

func (s *Sim) listClusters(in *ecs.ListClustersInput) (*ecs.ListClustersOutput, error) {
	var arns []string
	for _, c := range sortedBySeq(s.ecs.clusters, func(c *ecsCluster) uint64 { return c.seq }) {
		if c.status == "ACTIVE" {
			arns = append(arns, c.arn)
		}
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, ecsInvalid("Invalid token")
	}
	return &ecs.ListClustersOutput{ClusterArns: append([]string{}, page...), NextToken: next}, nil
}

func (s *Sim) deleteCluster(in *ecs.DeleteClusterInput) (*ecs.DeleteClusterOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	for _, svc := range c.services {
		if svc.status != "INACTIVE" {
			return nil, &types.ClusterContainsServicesException{Message: aws.String("The Cluster cannot be deleted while Services are active.")}
		}
	}
	for _, ci := range s.ecs.instances {
		if ci.cluster == c.name && ci.status != "INACTIVE" {
			return nil, &types.ClusterContainsContainerInstancesException{Message: aws.String("The Cluster cannot be deleted while Container Instances are active or draining.")}
		}
	}
	for _, t := range s.ecs.tasks {
		if t.cluster == c.name && t.lastStatus != "STOPPED" {
			return nil, &types.ClusterContainsTasksException{Message: aws.String("The Cluster cannot be deleted while Tasks are active.")}
		}
	}
	c.status = "INACTIVE"
	for _, p := range c.providers {
		if cp, ok := s.ecs.providers[p]; ok && cp.cluster == c.name {
			cp.cluster = ""
		}
	}
	out := s.clusterOut(c, nil)
	delete(s.ecs.clusters, c.name)
	return &ecs.DeleteClusterOutput{Cluster: out}, nil
}

func (s *Sim) putClusterCapacityProviders(in *ecs.PutClusterCapacityProvidersInput) (*ecs.PutClusterCapacityProvidersOutput, error) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	for _, p := range in.CapacityProviders {
		cp, ok := s.ecs.providers[p]
		if !ok && p != "FARGATE" && p != "FARGATE_SPOT" {
			return nil, ecsInvalid("The specified capacity provider %s is not in an ACTIVE state. Specify a valid capacity provider and try again.", p)
		}
		if ok && cp.cluster != "" && cp.cluster != c.name {
			return nil, &types.ResourceInUseException{Message: aws.String("The specified capacity provider is in use and cannot be removed.")}
		}
	}
	for _, st := range in.DefaultCapacityProviderStrategy {
		if !slices.Contains(in.CapacityProviders, aws.ToString(st.CapacityProvider)) {
			return nil, ecsInvalid("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
	}
	for _, p := range c.providers {
		if cp, ok := s.ecs.providers[p]; ok && !slices.Contains(in.CapacityProviders, p) {
			cp.cluster = ""
		}
	}
	c.providers = append([]string(nil), in.CapacityProviders...)
	c.defaultStrategy = in.DefaultCapacityProviderStrategy
	for _, p := range c.providers {
		if cp, ok := s.ecs.providers[p]; ok {
			cp.cluster = c.name
		}
	}
	s.ecsKickCluster(c)
	return &ecs.PutClusterCapacityProvidersOutput{Cluster: s.clusterOut(c, nil)}, nil
}

// groupByArn finds an Auto Scaling group by ARN or name.
func (s *Sim) groupByArn(ref string) *asGroup {
	for _, g := range s.asg.groups {
		if g.arn == ref || g.name == ref {
			return g
		}
	}
	return nil
}

func (s *Sim) createCapacityProvider(in *ecs.CreateCapacityProviderInput) (*ecs.CreateCapacityProviderOutput, error) {
	name := aws.ToString(in.Name)
	if _, ok := s.ecs.providers[name]; ok {
		return nil, ecsClient("The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.")
	}
	if in.AutoScalingGroupProvider == nil {
		return nil, ecsInvalid("The simulator supports Auto Scaling group capacity providers only.")
	}
	asgArn := aws.ToString(in.AutoScalingGroupProvider.AutoScalingGroupArn)
	if s.groupByArn(asgArn) == nil {
		return nil, ecsInvalid("The specified Auto Scaling group ARN is not valid. Specify a valid ARN and try again.")
	}
	for _, cp := range s.ecs.providers {
		if cp.asgArn == asgArn {
			return nil, ecsClient("The specified Auto Scaling group is already in use by another capacity provider.")
		}
	}
	cp := &capacityProvider{seq: s.ecs.next(), name: name, arn: s.ecsArn("capacity-provider/" + name), asgArn: asgArn, tags: ecsTags(in.Tags)}
	if err := cp.apply(in.AutoScalingGroupProvider.ManagedScaling, in.AutoScalingGroupProvider.ManagedTerminationProtection, in.AutoScalingGroupProvider.ManagedDraining); err != nil {
		return nil, err
	}
	s.ecs.providers[name] = cp
	s.ensureMinuteTick()
	return &ecs.CreateCapacityProviderOutput{CapacityProvider: s.providerOut(cp)}, nil
}

// apply sets the provider's managed behaviour, with ECS's defaults.
func (cp *capacityProvider) apply(ms *types.ManagedScaling, mtp types.ManagedTerminationProtection, md types.ManagedDraining) error {
	if cp.targetCapacity == 0 {
		cp.targetCapacity, cp.minStep, cp.maxStep, cp.warmup = 100, 1, 10000, 300
		cp.managedDraining = true
	}
	if ms != nil {
		cp.managedScaling = ms.Status == types.ManagedScalingStatusEnabled
		if ms.TargetCapacity != nil {
			if *ms.TargetCapacity < 1 || *ms.TargetCapacity > 100 {
				return ecsInvalid("The managed scaling target capacity must be between 1 and 100.")
			}
			cp.targetCapacity = *ms.TargetCapacity
		}
		if ms.MinimumScalingStepSize != nil {
			cp.minStep = *ms.MinimumScalingStepSize
		}
		if ms.MaximumScalingStepSize != nil {
			cp.maxStep = *ms.MaximumScalingStepSize
		}
		if ms.InstanceWarmupPeriod != nil {
			cp.warmup = *ms.InstanceWarmupPeriod
		}
	}
	if mtp != "" {
		if mtp == types.ManagedTerminationProtectionEnabled && !cp.managedScaling {
			return ecsInvalid("The managed termination protection setting for the capacity provider is invalid. To enable managed termination protection for a capacity provider, the Auto Scaling group must have instance protection from scale in enabled.")
		}
		cp.terminationProtect = mtp == types.ManagedTerminationProtectionEnabled
	}
	if md != "" {
		cp.managedDraining = md == types.ManagedDrainingEnabled
	}
	return nil
}

func (s *Sim) providerOut(cp *capacityProvider) *types.CapacityProvider {
	status := types.ManagedScalingStatusDisabled
	if cp.managedScaling {
		status = types.ManagedScalingStatusEnabled
	}
	mtp, md := types.ManagedTerminationProtectionDisabled, types.ManagedDrainingDisabled
	if cp.terminationProtect {
		mtp = types.ManagedTerminationProtectionEnabled
	}
	if cp.managedDraining {
		md = types.ManagedDrainingEnabled
	}
	return &types.CapacityProvider{
		CapacityProviderArn: aws.String(cp.arn), Name: aws.String(cp.name), Status: types.CapacityProviderStatusActive,
		Type: types.CapacityProviderTypeEc2Autoscaling, Tags: cp.tags,
		AutoScalingGroupProvider: &types.AutoScalingGroupProvider{
			AutoScalingGroupArn: aws.String(cp.asgArn), ManagedTerminationProtection: mtp, ManagedDraining: md,
			ManagedScaling: &types.ManagedScaling{
				Status: status, TargetCapacity: aws.Int32(cp.targetCapacity), MinimumScalingStepSize: aws.Int32(cp.minStep),
				MaximumScalingStepSize: aws.Int32(cp.maxStep), InstanceWarmupPeriod: aws.Int32(cp.warmup),
			},
		},
	}
}

func (s *Sim) describeCapacityProviders(in *ecs.DescribeCapacityProvidersInput) (*ecs.DescribeCapacityProvidersOutput, error) {
	out := &ecs.DescribeCapacityProvidersOutput{CapacityProviders: []types.CapacityProvider{}, Failures: []types.Failure{}}
	all := sortedBySeq(s.ecs.providers, func(cp *capacityProvider) uint64 { return cp.seq })
	if len(in.CapacityProviders) == 0 {
		for _, cp := range all {
			out.CapacityProviders = append(out.CapacityProviders, *s.providerOut(cp))
		}
		return out, nil
	}
	for _, ref := range in.CapacityProviders {
		found := false
		for _, cp := range all {
			if cp.name == ref || cp.arn == ref {
				out.CapacityProviders = append(out.CapacityProviders, *s.providerOut(cp))
				found = true
			}
		}
		if !found {
			out.Failures = append(out.Failures, types.Failure{Arn: aws.String(ref), Reason: aws.String("MISSING")})
		}
	}
	return out, nil
}

func (s *Sim) findProvider(ref string) (*capacityProvider, error) {
	for _, cp := range s.ecs.providers {
		if cp.name == ref || cp.arn == ref {
			return cp, nil
		}
	}
	return nil, ecsInvalid("The specified capacity provider does not exist. Specify a valid name or ARN and try again.")
}

func (s *Sim) updateCapacityProvider(in *ecs.UpdateCapacityProviderInput) (*ecs.UpdateCapacityProviderOutput, error) {
	cp, err := s.findProvider(aws.ToString(in.Name))
	if err != nil {
		return nil, err
	}
	if p := in.AutoScalingGroupProvider; p != nil {
		if err := cp.apply(p.ManagedScaling, p.ManagedTerminationProtection, p.ManagedDraining); err != nil {
			return nil, err
		}
	}
	out := s.providerOut(cp)
	out.UpdateStatus = types.CapacityProviderUpdateStatusUpdateComplete
	return &ecs.UpdateCapacityProviderOutput{CapacityProvider: out}, nil
}

func (s *Sim) deleteCapacityProvider(in *ecs.DeleteCapacityProviderInput) (*ecs.DeleteCapacityProviderOutput, error) {
	cp, err := s.findProvider(aws.ToString(in.CapacityProvider))
	if err != nil {
		return nil, err
	}
	if cp.cluster != "" {
		if c, ok := s.ecs.clusters[cp.cluster]; ok && slices.Contains(c.providers, cp.name) {
			return nil, &types.ResourceInUseException{Message: aws.String("The specified capacity provider is in use and cannot be removed.")}
		}
	}
	out := s.providerOut(cp)
	out.Status = types.CapacityProviderStatusInactive
	out.UpdateStatus = types.CapacityProviderUpdateStatusDeleteComplete
	delete(s.ecs.providers, cp.name)
	return &ecs.DeleteCapacityProviderOutput{CapacityProvider: out}, nil
}
