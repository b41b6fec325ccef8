package lifecycle

// The names of the stack's resources the workflow acts on, as the compute
// layer gives them; TestNamesAreTheComputeLayers holds them to it. The
// workflow does not import the layer, which would link the layer's clients
// into the lifecycle function.

func groupName(stackName string) string   { return stackName + "-asg" }
func clusterName(stackName string) string { return stackName }

func hookName(stackName, kind string) string {
	if kind == KindDrain {
		return stackName + "-terminate-hook"
	}
	return stackName + "-launch-hook"
}
