package sim_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsplane/ecsplane/internal/events"
	"github.com/ecsplane/ecsplane/internal/sim"
)

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestPushedImagesAreFoundByTagOrDigest(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 41, instances: 0})
	ctx := context.Background()
	digests := f.pushImages(t, "v1", "v2")
	if !digestRe.MatchString(digests["v1"]) || digests["v1"] == digests["v2"] {
		t.Fatalf("digests %v, want two distinct sha256 digests", digests)
	}
	lookup := func(id ecrtypes.ImageIdentifier) ([]ecrtypes.ImageDetail, error) {
		out, err := f.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("web"), ImageIds: []ecrtypes.ImageIdentifier{id}})
		if err != nil {
			return nil, err
		}
		return out.ImageDetails, nil
	}
	byTag, err := lookup(ecrtypes.ImageIdentifier{ImageTag: aws.String("v2")})
	if err != nil || len(byTag) != 1 || aws.ToString(byTag[0].ImageDigest) != digests["v2"] {
		t.Fatalf("DescribeImages by tag: %s (%v)", describe(byTag), err)
	}
	byDigest, err := lookup(ecrtypes.ImageIdentifier{ImageDigest: aws.String(digests["v1"])})
	if err != nil || len(byDigest) != 1 || strings.Join(byDigest[0].ImageTags, ",") != "v1" {
		t.Fatalf("DescribeImages by digest: %s (%v)", describe(byDigest), err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"unknown tag", func() error { _, err := lookup(ecrtypes.ImageIdentifier{ImageTag: aws.String("v9")}); return err }, "ImageNotFoundException"},
		{"tag and digest of different images", func() error {
			_, err := lookup(ecrtypes.ImageIdentifier{ImageTag: aws.String("v1"), ImageDigest: aws.String(digests["v2"])})
			return err
		}, "ImageNotFoundException"},
		{"unknown repository", func() error {
			_, err := f.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("nope")})
			return err
		}, "RepositoryNotFoundException"},
		{"repository twice", func() error {
			_, err := f.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("web")})
			return err
		}, "RepositoryAlreadyExistsException"},
		{"bad repository name", func() error {
			_, err := f.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Web!")})
			return err
		}, "InvalidParameterException"},
		{"describe unknown repository", func() error {
			_, err := f.ecr.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"nope"}})
			return err
		}, "RepositoryNotFoundException"},
	} {
		if got := errCode(tc.call()); got != tc.want {
			t.Errorf("%s: error code %q, want %q", tc.name, got, tc.want)
		}
	}
	// Pushing v1 again with new content moves the tag, as in a mutable
	// repository.
	again := f.pushImages(t, "v1")["v1"]
	if moved, err := lookup(ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}); err != nil || aws.ToString(moved[0].ImageDigest) != again || again == digests["v1"] {
		t.Fatalf("v1 after a second push: %s (%v), want the new digest %s", describe(moved), err, again)
	}
	var pushes []events.ECRImageAction
	for _, ev := range f.sim.Events() {
		if ev.DetailType == events.DetailTypeECRImageAction {
			raw, _ := json.Marshal(ev)
			parsed, err := events.ParseECRImageAction(raw)
			if err != nil {
				t.Fatal(err)
			}
			pushes = append(pushes, parsed.Detail)
		}
	}
	if len(pushes) != 3 || pushes[1].ImageTag != "v2" || pushes[1].ImageDigest != digests["v2"] || pushes[1].RepositoryName != "web" ||
		pushes[1].ActionType != "PUSH" || pushes[1].Result != "SUCCESS" {
		t.Fatalf("push events %+v", pushes)
	}
}

func TestTasksRunPushedImagesByTagOrDigest(t *testing.T) {
	f := newFleet(t, fleetOpts{seed: 42, instances: 2})
	digests := f.pushImages(t, "v1", "v3")
	repo := strings.TrimSuffix(fleetImage, ":v1")
	// A bad v3 is pushed; the fault follows the image, not the reference.
	f.sim.FailImage(repo+":v3", sim.ImageExits)
	for _, tc := range []struct {
		name, image string
		wantStop    string
		wantDigest  string
	}{
		{"good image by digest", repo + "@" + digests["v1"], "", digests["v1"]},
		{"bad image by tag", repo + ":v3", "Essential container in task exited", digests["v3"]},
		{"bad image by digest", repo + "@" + digests["v3"], "Essential container in task exited", digests["v3"]},
		{"tag never pushed", repo + ":v9", "CannotPullContainerError", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-")
			f.td = f.registerTD(t, tc.image)
			f.createService(t, serviceOpts{name: name, desired: 1, minHealthy: 100, max: 200, noLoadBalancer: true})
			var task ecstypes.Task
			advanceUntil(t, f.sim, 5*time.Minute, "task running or stopped", func() bool {
				for _, tk := range append(f.tasks(t, name, ecstypes.DesiredStatusRunning), f.tasks(t, name, ecstypes.DesiredStatusStopped)...) {
					if s := aws.ToString(tk.LastStatus); s == "RUNNING" && tc.wantStop == "" || s == "STOPPED" {
						task = tk
						return true
					}
				}
				return false
			})
			if got := aws.ToString(task.StoppedReason); !strings.HasPrefix(got, tc.wantStop) || (tc.wantStop == "") != (got == "") {
				t.Fatalf("task stopped with %q, want %q", got, tc.wantStop)
			}
			if got := aws.ToString(task.Containers[0].ImageDigest); tc.wantDigest != "" && got != tc.wantDigest {
				t.Fatalf("container reports digest %s, want the pushed %s", got, tc.wantDigest)
			}
		})
	}
}
