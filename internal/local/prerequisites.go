package local

import (
	"context"
	"crypto/sha256"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// IAMAdminAPI creates the template's roles in the local environment.
type IAMAdminAPI interface {
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	CreateInstanceProfile(ctx context.Context, in *iam.CreateInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error)
	AddRoleToInstanceProfile(ctx context.Context, in *iam.AddRoleToInstanceProfileInput, optFns ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error)
}

// ECRAdminAPI pushes images in the local environment.
type ECRAdminAPI interface {
	CreateRepository(ctx context.Context, in *ecr.CreateRepositoryInput, optFns ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error)
	PutImage(ctx context.Context, in *ecr.PutImageInput, optFns ...func(*ecr.Options)) (*ecr.PutImageOutput, error)
}

var (
	_ IAMAdminAPI = (*iam.Client)(nil)
	_ ECRAdminAPI = (*ecr.Client)(nil)
)

// Template resource types of IAM.
const (
	TypeRole            = "AWS::IAM::Role"
	TypeInstanceProfile = "AWS::IAM::InstanceProfile"
)

// CreateRoles creates tmpl's IAM roles and instance profiles under their
// local names: each role with its trust policy (its
// AssumeRolePolicyDocument, intrinsics resolved) and description, each
// instance profile with its roles. What exists is left as it is. The
// roles' managed policies are AWS's own, which moto does not load unless
// asked to (and then for every account, slowly); nothing local evaluates
// them, and the preflight checks read the trust policies.
func CreateRoles(ctx context.Context, api IAMAdminAPI, tmpl *Template, names *Names) error {
	r := names.Resolver()
	for _, id := range tmpl.ResourcesOfType(TypeRole) {
		_, props, _ := tmpl.Resource(id)
		name, err := names.Name(id)
		if err != nil {
			return err
		}
		trust, err := r.JSON(child(props, "AssumeRolePolicyDocument"))
		if err != nil {
			return fmt.Errorf("role %s: AssumeRolePolicyDocument: %w", id, err)
		}
		in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}
		if d := child(props, "Description"); d != nil {
			desc, err := r.String(d)
			if err != nil {
				return fmt.Errorf("role %s: Description: %w", id, err)
			}
			in.Description = aws.String(desc)
		}
		if _, err := api.CreateRole(ctx, in); err != nil && awserr.Code(err) != "EntityAlreadyExists" {
			return fmt.Errorf("creating role %s (%s): %w", name, id, err)
		}
	}
	for _, id := range tmpl.ResourcesOfType(TypeInstanceProfile) {
		_, props, _ := tmpl.Resource(id)
		name, err := names.Name(id)
		if err != nil {
			return err
		}
		roles, err := r.Value(child(props, "Roles"))
		if err != nil {
			return fmt.Errorf("instance profile %s: Roles: %w", id, err)
		}
		if _, err := api.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name)}); err != nil {
			if awserr.Code(err) == "EntityAlreadyExists" {
				continue
			}
			return fmt.Errorf("creating instance profile %s (%s): %w", name, id, err)
		}
		list, _ := roles.([]any)
		for _, role := range list {
			if _, err := api.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(fmt.Sprint(role))}); err != nil {
				return fmt.Errorf("adding role %v to instance profile %s: %w", role, name, err)
			}
		}
	}
	return nil
}

// ecrRef is repository[:tag] in an account's ECR registry.
var ecrRef = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/([^:@]+)(?::([^@]+))?$`)

// PushImage creates the repository of ref, an image in an ECR registry,
// if needed, and puts a manifest under ref's tag (latest when it has
// none), as a docker push ends, unless the tag is there already.
func PushImage(ctx context.Context, api ECRAdminAPI, ref string) error {
	m := ecrRef.FindStringSubmatch(ref)
	if m == nil {
		return fmt.Errorf("image %s is not a repository and tag in an ECR registry", ref)
	}
	repo, tag := m[1], m[2]
	if tag == "" {
		tag = "latest"
	}
	if _, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil && awserr.Code(err) != "RepositoryAlreadyExistsException" {
		return fmt.Errorf("creating repository %s: %w", repo, err)
	}
	layer := sha256.Sum256([]byte(repo + ":" + tag))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"sha256:%x"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2801778,"digest":"sha256:%x"}]}`, layer, sha256.Sum256(layer[:]))
	_, err := api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageTag: aws.String(tag), ImageManifest: aws.String(manifest)})
	if err != nil && awserr.Code(err) != "ImageAlreadyExistsException" {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}
