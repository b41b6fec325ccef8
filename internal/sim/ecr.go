package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

const ecrID = ecr.ServiceID

func init() {
	registerService(service{id: ecrID, throttleCode: "ThrottlingException", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) {
		s.ecr = &ecrState{repos: map[string]*ecrRepo{}}
	})
	handle(ecrID, "CreateRepository", (*Sim).createRepository)
	handle(ecrID, "DescribeRepositories", (*Sim).describeRepositories)
	handle(ecrID, "DescribeImages", (*Sim).describeImages)
	handle(ecrID, "PutImage", (*Sim).putImage)
}

// ecrState is a minimal simulated ECR: repositories and their images, enough
// for pushes, lookups by tag or digest, and tasks that pull them.
type ecrState struct {
	seq   uint64
	repos map[string]*ecrRepo
}

// ecrRepo is a repository.
type ecrRepo struct {
	seq       uint64
	name, arn string
	created   time.Time
	immutable bool
	images    []*ecrImage
	tags      []types.Tag
}

// ecrImage is an image manifest and the tags that point at it.
type ecrImage struct {
	digest    string
	manifest  string
	mediaType string
	tags      []string
	pushedAt  time.Time
}

// repoNameRe is ECR's repository name pattern.
var repoNameRe = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// registryHost is the simulated account's registry, as image URIs name it.
func (s *Sim) registryHost() string {
	return s.account + ".dkr.ecr." + s.region + ".amazonaws.com"
}

func (s *Sim) findRepo(name *string) (*ecrRepo, error) {
	r, ok := s.ecr.repos[aws.ToString(name)]
	if !ok {
		return nil, &types.RepositoryNotFoundException{Message: aws.String(fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", aws.ToString(name), s.account))}
	}
	return r, nil
}

func (s *Sim) createRepository(in *ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error) {
	name := aws.ToString(in.RepositoryName)
	if len(name) < 2 || len(name) > 256 || !repoNameRe.MatchString(name) {
		return nil, &types.InvalidParameterException{Message: aws.String(fmt.Sprintf("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''", repoNameRe))}
	}
	if _, ok := s.ecr.repos[name]; ok {
		return nil, &types.RepositoryAlreadyExistsException{Message: aws.String(fmt.Sprintf("The repository with name '%s' already exists in the registry with id '%s'", name, s.account))}
	}
	s.ecr.seq++
	r := &ecrRepo{
		seq: s.ecr.seq, name: name, arn: s.arn("ecr", "repository/"+name), created: s.clock.now,
		immutable: in.ImageTagMutability == types.ImageTagMutabilityImmutable, tags: in.Tags,
	}
	s.ecr.repos[name] = r
	out := s.repoOut(r)
	return &ecr.CreateRepositoryOutput{Repository: &out}, nil
}

func (s *Sim) repoOut(r *ecrRepo) types.Repository {
	mut := types.ImageTagMutabilityMutable
	if r.immutable {
		mut = types.ImageTagMutabilityImmutable
	}
	return types.Repository{
		RepositoryName: aws.String(r.name), RepositoryArn: aws.String(r.arn), RegistryId: aws.String(s.account),
		RepositoryUri: aws.String(s.registryHost() + "/" + r.name), CreatedAt: aws.Time(r.created), ImageTagMutability: mut,
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: false},
		EncryptionConfiguration:    &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeAes256},
	}
}

func (s *Sim) describeRepositories(in *ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
	var repos []*ecrRepo
	if len(in.RepositoryNames) > 0 {
		for _, n := range in.RepositoryNames {
			r, err := s.findRepo(aws.String(n))
			if err != nil {
				return nil, err
			}
			repos = append(repos, r)
		}
	} else {
		repos = sortedBySeq(s.ecr.repos, func(r *ecrRepo) uint64 { return r.seq })
	}
	page, next, err := listPage(repos, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.InvalidParameterException{Message: aws.String("Invalid NextToken")}
	}
	out := &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{}, NextToken: next}
	for _, r := range page {
		out.Repositories = append(out.Repositories, s.repoOut(r))
	}
	return out, nil
}

// image finds an image by tag or digest; with both, they must name the same
// image.
func (r *ecrRepo) image(tag, digest string) *ecrImage {
	for _, img := range r.images {
		if (digest == "" || img.digest == digest) && (tag == "" || containsString(img.tags, tag)) {
			return img
		}
	}
	return nil
}

func (s *Sim) imageNotFound(r *ecrRepo, id types.ImageIdentifier) error {
	d, t := "null", "null"
	if id.ImageDigest != nil {
		d = *id.ImageDigest
	}
	if id.ImageTag != nil {
		t = *id.ImageTag
	}
	return &types.ImageNotFoundException{Message: aws.String(fmt.Sprintf("The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'", d, t, r.name, s.account))}
}

func (s *Sim) describeImages(in *ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error) {
	r, err := s.findRepo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var imgs []*ecrImage
	if len(in.ImageIds) > 0 {
		for _, id := range in.ImageIds {
			if id.ImageDigest == nil && id.ImageTag == nil {
				return nil, &types.InvalidParameterException{Message: aws.String("Invalid parameter at 'imageIds' failed to satisfy constraint: 'imageDigest or imageTag must be specified'")}
			}
			img := r.image(aws.ToString(id.ImageTag), aws.ToString(id.ImageDigest))
			if img == nil {
				return nil, s.imageNotFound(r, id)
			}
			imgs = append(imgs, img)
		}
	} else {
		for _, img := range r.images {
			if f := in.Filter; f != nil && f.TagStatus == types.TagStatusTagged && len(img.tags) == 0 ||
				f != nil && f.TagStatus == types.TagStatusUntagged && len(img.tags) > 0 {
				continue
			}
			imgs = append(imgs, img)
		}
	}
	page, next, err := listPage(imgs, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, &types.InvalidParameterException{Message: aws.String("Invalid NextToken")}
	}
	out := &ecr.DescribeImagesOutput{ImageDetails: []types.ImageDetail{}, NextToken: next}
	for _, img := range page {
		d := types.ImageDetail{
			RegistryId: aws.String(s.account), RepositoryName: aws.String(r.name), ImageDigest: aws.String(img.digest),
			ImagePushedAt: aws.Time(img.pushedAt), ImageSizeInBytes: aws.Int64(int64(len(img.manifest))),
			ImageManifestMediaType: aws.String(img.mediaType), ArtifactMediaType: aws.String("application/vnd.docker.container.image.v1+json"),
		}
		if len(img.tags) > 0 {
			d.ImageTags = append([]string(nil), img.tags...)
		}
		out.ImageDetails = append(out.ImageDetails, d)
	}
	return out, nil
}

// digestOf is an image's digest: the SHA-256 of its manifest, as OCI
// registries compute it.
func digestOf(manifest string) string {
	sum := sha256.Sum256([]byte(manifest))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (s *Sim) putImage(in *ecr.PutImageInput) (*ecr.PutImageOutput, error) {
	r, err := s.findRepo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	img, err := s.storeImage(r, aws.ToString(in.ImageManifest), aws.ToString(in.ImageManifestMediaType), aws.ToString(in.ImageTag), aws.ToString(in.ImageDigest))
	if err != nil {
		return nil, err
	}
	id := types.ImageIdentifier{ImageDigest: aws.String(img.digest)}
	if in.ImageTag != nil {
		id.ImageTag = in.ImageTag
	}
	return &ecr.PutImageOutput{Image: &types.Image{
		RegistryId: aws.String(s.account), RepositoryName: aws.String(r.name), ImageId: &id,
		ImageManifest: aws.String(img.manifest), ImageManifestMediaType: aws.String(img.mediaType),
	}}, nil
}

// storeImage stores a manifest under a tag, moving the tag from another image
// in a mutable repository, and emits the push event.
//
// https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html
func (s *Sim) storeImage(r *ecrRepo, manifest, mediaType, tag, digest string) (*ecrImage, error) {
	if manifest == "" {
		return nil, &types.InvalidParameterException{Message: aws.String("Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Member must have length greater than or equal to 1'")}
	}
	computed := digestOf(manifest)
	if digest != "" && digest != computed {
		return nil, &types.ImageDigestDoesNotMatchException{Message: aws.String("The digest " + digest + " does not match the digest of the manifest, " + computed)}
	}
	if mediaType == "" {
		mediaType = "application/vnd.docker.distribution.manifest.v2+json"
	}
	img := r.image("", computed)
	if tag != "" {
		if owner := r.image(tag, ""); owner != nil {
			if owner == img {
				return nil, &types.ImageAlreadyExistsException{Message: aws.String(fmt.Sprintf("Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'", computed, tag, r.name, s.account))}
			}
			if r.immutable {
				return nil, &types.ImageTagAlreadyExistsException{Message: aws.String(fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, r.name))}
			}
			owner.tags = removeString(owner.tags, tag)
		}
	}
	if img == nil {
		img = &ecrImage{digest: computed, manifest: manifest, mediaType: mediaType}
		r.images = append(r.images, img)
	}
	img.pushedAt = s.clock.now
	if tag != "" {
		img.tags = append(img.tags, tag)
	}
	s.emit(nil, events.ECRImageAction{
		Result: events.ECRResultSuccess, RepositoryName: r.name, ImageDigest: img.digest, ActionType: events.ECRActionPush, ImageTag: tag,
	})
	return img, nil
}

func removeString(list []string, v string) []string {
	out := list[:0]
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// PushImage pushes a new image to a repository under tag, as a docker push
// ends with ECR's PutImage: it stores a manifest whose content is derived
// from the repository, the tag and the repository's push count, so the same
// pushes give the same digests, and emits "ECR Image Action". It returns the
// image's digest.
func (s *Sim) PushImage(repository, tag string) (string, error) {
	var digest string
	err := s.lockedRun(func() error {
		r, err := s.findRepo(&repository)
		if err != nil {
			return fmt.Errorf("pushing %s:%s: %w", repository, tag, err)
		}
		layer := sha256.Sum256(fmt.Appendf(nil, "%s:%s:%d", r.name, tag, len(r.images)))
		manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"sha256:%x"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2801778,"digest":"sha256:%x"}]}`, layer, sha256.Sum256(layer[:]))
		img, err := s.storeImage(r, manifest, "", tag, "")
		if err != nil {
			return fmt.Errorf("pushing %s:%s: %w", repository, tag, err)
		}
		digest = img.digest
		return nil
	})
	return digest, err
}

// imageRef is a container image reference split into its parts.
type imageRef struct {
	host, repo, tag, digest string
}

// parseImageRef splits host/repo:tag or host/repo@digest; a reference with
// neither means the tag latest.
func parseImageRef(ref string) imageRef {
	var r imageRef
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, r.digest = ref[:i], ref[i+1:]
	} else if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, r.tag = ref[:i], ref[i+1:]
	} else {
		r.tag = "latest"
	}
	if i := strings.Index(ref, "/"); i >= 0 && strings.ContainsAny(ref[:i], ".:") {
		r.host, r.repo = ref[:i], ref[i+1:]
	} else {
		r.repo = ref
	}
	return r
}

// resolveImage finds the pushed image a reference names. inECR is false for
// images of other registries and of repositories the simulated ECR does not
// have, which the simulator treats as always pullable; img is nil when the
// repository exists but has no such image, so a pull fails as on AWS.
func (s *Sim) resolveImage(ref string) (img *ecrImage, inECR bool) {
	r := parseImageRef(ref)
	if r.host != s.registryHost() {
		return nil, false
	}
	repo, ok := s.ecr.repos[r.repo]
	if !ok {
		return nil, false
	}
	return repo.image(r.tag, r.digest), true
}
