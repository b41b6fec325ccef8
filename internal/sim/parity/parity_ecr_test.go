package parity

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// manifest is a Docker image manifest, as a push's final PutImage sends it.
const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
	`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000001"},` +
	`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2801778,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000002"}]}`

func digestShape(v *string) string {
	if v == nil {
		return "absent"
	}
	if h, ok := strings.CutPrefix(*v, "sha256:"); ok && len(h) == 64 && strings.Trim(h, "0123456789abcdef") == "" {
		return "sha256-hex64"
	}
	return "other:" + *v
}

func TestECRParity(t *testing.T) {
	compare(t, func(t *testing.T, b backend, o observation) {
		c := ecr.NewFromConfig(b.cfg)
		ctx := context.Background()
		repo, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("web")})
		o.code("ecr.repo.create", err)
		if err == nil {
			o.set("ecr.repo.arn", arnShape(repo.Repository.RepositoryArn))
			o.set("ecr.repo.uri", arnShape(repo.Repository.RepositoryUri))
			o.set("ecr.repo.registry", arnShape(repo.Repository.RegistryId))
			o.set("ecr.repo.mutability", repo.Repository.ImageTagMutability)
		}
		_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("web")})
		o.code("ecr.repo.create-again", err)
		repos, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"web"}})
		o.code("ecr.repo.describe", err)
		if err == nil {
			o.set("ecr.repo.describe.count", len(repos.Repositories))
		}
		_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"nope"}})
		o.code("ecr.repo.describe-unknown", err)

		put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("web"), ImageManifest: aws.String(manifest), ImageTag: aws.String("v1")})
		o.code("ecr.image.put", err)
		digest := ""
		if err == nil {
			digest = aws.ToString(put.Image.ImageId.ImageDigest)
			o.set("ecr.image.put.digest", digestShape(put.Image.ImageId.ImageDigest))
			o.set("ecr.image.put.tag", aws.ToString(put.Image.ImageId.ImageTag))
		}
		describe := func(key string, id ecrtypes.ImageIdentifier) {
			out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("web"), ImageIds: []ecrtypes.ImageIdentifier{id}})
			o.code(key, err)
			if err == nil {
				o.set(key+".count", len(out.ImageDetails))
				o.set(key+".digest-matches", aws.ToString(out.ImageDetails[0].ImageDigest) == digest)
				o.set(key+".tags", strings.Join(out.ImageDetails[0].ImageTags, ","))
				o.set(key+".pushed-at", present(out.ImageDetails[0].ImagePushedAt))
			}
		}
		describe("ecr.image.describe-by-tag", ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")})
		describe("ecr.image.describe-by-digest", ecrtypes.ImageIdentifier{ImageDigest: aws.String(digest)})
		describe("ecr.image.describe-unknown-tag", ecrtypes.ImageIdentifier{ImageTag: aws.String("v9")})
		_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("nope")})
		o.code("ecr.image.describe-unknown-repo", err)
	})
}
