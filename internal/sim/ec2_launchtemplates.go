package sim

import (
	"encoding/json"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

func init() {
	handle(ec2ID, "CreateLaunchTemplate", (*Sim).createLaunchTemplate)
	handle(ec2ID, "CreateLaunchTemplateVersion", (*Sim).createLaunchTemplateVersion)
	handle(ec2ID, "DescribeLaunchTemplates", (*Sim).describeLaunchTemplates)
	handle(ec2ID, "DescribeLaunchTemplateVersions", (*Sim).describeLaunchTemplateVersions)
	handle(ec2ID, "ModifyLaunchTemplate", (*Sim).modifyLaunchTemplate)
	handle(ec2ID, "DeleteLaunchTemplate", (*Sim).deleteLaunchTemplate)
}

// launchTemplate is a simulated launch template and its versions.
type launchTemplate struct {
	meta
	name           string
	versions       []*ltVersion
	defaultVersion int64
}

type ltVersion struct {
	number      int64
	description string
	data        types.ResponseLaunchTemplateData
	created     time.Time
}

func (lt *launchTemplate) latest() *ltVersion { return lt.versions[len(lt.versions)-1] }

// version resolves "$Latest", "$Default" or a version number; empty means
// the default version.
func (lt *launchTemplate) version(v string) (*ltVersion, error) {
	switch v {
	case "", "$Default":
		v = strconv.FormatInt(lt.defaultVersion, 10)
	case "$Latest":
		return lt.latest(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil {
		for _, ver := range lt.versions {
			if ver.number == n {
				return ver, nil
			}
		}
	}
	return nil, apiError("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s", v, lt.id)
}

var (
	ltNamePattern = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)
	ltIDPattern   = regexp.MustCompile(`^lt-[0-9a-f]{17}$`)
)

// responseData converts request-shaped launch template data to the response
// shape. The two SDK types share field names, so a JSON round trip carries
// every field the request set.
func responseData(in *types.RequestLaunchTemplateData) (types.ResponseLaunchTemplateData, error) {
	var out types.ResponseLaunchTemplateData
	if in == nil {
		return out, nil
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return out, invalidParam("Invalid launch template data: %v", err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, invalidParam("Invalid launch template data: %v", err)
	}
	return out, nil
}

// mergeData overlays the fields set in next on base, as a new version created
// from a source version does.
func mergeData(base types.ResponseLaunchTemplateData, next *types.RequestLaunchTemplateData) (types.ResponseLaunchTemplateData, error) {
	baseRaw, err := json.Marshal(base)
	if err != nil {
		return base, invalidParam("Invalid launch template data: %v", err)
	}
	nextRaw, err := json.Marshal(next)
	if err != nil {
		return base, invalidParam("Invalid launch template data: %v", err)
	}
	var merged, overlay map[string]json.RawMessage
	if err := json.Unmarshal(baseRaw, &merged); err != nil {
		return base, invalidParam("Invalid launch template data: %v", err)
	}
	if err := json.Unmarshal(nextRaw, &overlay); err != nil {
		return base, invalidParam("Invalid launch template data: %v", err)
	}
	for k, v := range overlay {
		if string(v) != "null" {
			merged[k] = v
		}
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return base, invalidParam("Invalid launch template data: %v", err)
	}
	var out types.ResponseLaunchTemplateData
	if err := json.Unmarshal(raw, &out); err != nil {
		return base, invalidParam("Invalid launch template data: %v", err)
	}
	return out, nil
}

func (s *Sim) launchTemplateOut(lt *launchTemplate) types.LaunchTemplate {
	return types.LaunchTemplate{
		LaunchTemplateId: aws.String(lt.id), LaunchTemplateName: aws.String(lt.name), CreateTime: aws.Time(lt.created),
		CreatedBy: aws.String("arn:aws:iam::" + s.account + ":root"), DefaultVersionNumber: aws.Int64(lt.defaultVersion),
		LatestVersionNumber: aws.Int64(lt.latest().number), Tags: lt.tags.ec2(),
	}
}

func (s *Sim) versionOut(lt *launchTemplate, v *ltVersion) types.LaunchTemplateVersion {
	data := v.data
	out := types.LaunchTemplateVersion{
		LaunchTemplateId: aws.String(lt.id), LaunchTemplateName: aws.String(lt.name), VersionNumber: aws.Int64(v.number),
		CreateTime: aws.Time(v.created), CreatedBy: aws.String("arn:aws:iam::" + s.account + ":root"),
		DefaultVersion: aws.Bool(v.number == lt.defaultVersion), LaunchTemplateData: &data,
	}
	if v.description != "" {
		out.VersionDescription = aws.String(v.description)
	}
	return out
}

func (s *Sim) createLaunchTemplate(in *ec2.CreateLaunchTemplateInput) (*ec2.CreateLaunchTemplateOutput, error) {
	name := aws.ToString(in.LaunchTemplateName)
	if !ltNamePattern.MatchString(name) {
		return nil, apiError("InvalidLaunchTemplateName.MalformedException", "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'")
	}
	for _, lt := range s.ec2.launchTemplates {
		if lt.name == name {
			return nil, apiError("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
		}
	}
	data, err := responseData(in.LaunchTemplateData)
	if err != nil {
		return nil, err
	}
	tags, err := tagsFromSpecs(in.TagSpecifications, types.ResourceTypeLaunchTemplate)
	if err != nil {
		return nil, err
	}
	lt := &launchTemplate{meta: s.newMeta(s.newID("lt"), tags[types.ResourceTypeLaunchTemplate]), name: name, defaultVersion: 1}
	lt.versions = []*ltVersion{{number: 1, description: aws.ToString(in.VersionDescription), data: data, created: s.clock.now}}
	s.ec2.launchTemplates[lt.id] = lt
	out := s.launchTemplateOut(lt)
	return &ec2.CreateLaunchTemplateOutput{LaunchTemplate: &out}, nil
}

// findLaunchTemplate resolves a template by ID or name, as the API does.
func (s *Sim) findLaunchTemplate(id, name *string) (*launchTemplate, error) {
	switch {
	case id != nil:
		lt, ok := lookup(s, s.ec2.launchTemplates, *id)
		if !ok {
			if !ltIDPattern.MatchString(*id) {
				return nil, apiError("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template (%s) is not valid. The ID must be in the format lt-xxxxxxxxxxxxxxxxx.", *id)
			}
			return nil, apiError("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", *id)
		}
		return lt, nil
	case name != nil:
		for _, lt := range byCreation(s.ec2.launchTemplates) {
			if lt.name == *name && s.visible(lt) {
				return lt, nil
			}
		}
		return nil, apiError("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", *name)
	}
	return nil, apiError("MissingParameter", "The request must contain the parameter launchTemplateName or launchTemplateId")
}

func (s *Sim) createLaunchTemplateVersion(in *ec2.CreateLaunchTemplateVersionInput) (*ec2.CreateLaunchTemplateVersionOutput, error) {
	lt, err := s.findLaunchTemplate(in.LaunchTemplateId, in.LaunchTemplateName)
	if err != nil {
		return nil, err
	}
	var data types.ResponseLaunchTemplateData
	if in.SourceVersion != nil {
		src, err := lt.version(*in.SourceVersion)
		if err != nil {
			return nil, err
		}
		data, err = mergeData(src.data, in.LaunchTemplateData)
		if err != nil {
			return nil, err
		}
	} else if data, err = responseData(in.LaunchTemplateData); err != nil {
		return nil, err
	}
	v := &ltVersion{number: lt.latest().number + 1, description: aws.ToString(in.VersionDescription), data: data, created: s.clock.now}
	lt.versions = append(lt.versions, v)
	out := s.versionOut(lt, v)
	return &ec2.CreateLaunchTemplateVersionOutput{LaunchTemplateVersion: &out}, nil
}

var launchTemplateFilters = filterFields[*launchTemplate]{
	"launch-template-name": func(lt *launchTemplate) []string { return []string{lt.name} },
	"launch-template-id":   func(lt *launchTemplate) []string { return []string{lt.id} },
}

func (s *Sim) describeLaunchTemplates(in *ec2.DescribeLaunchTemplatesInput) (*ec2.DescribeLaunchTemplatesOutput, error) {
	lts, err := selectByID(s, s.ec2.launchTemplates, in.LaunchTemplateIds, func(ids ...string) error {
		return apiError("InvalidLaunchTemplateId.NotFound", "At least one of the launch templates specified in the request does not exist.")
	})
	if err != nil {
		return nil, err
	}
	if len(in.LaunchTemplateNames) > 0 {
		var kept []*launchTemplate
		for _, name := range in.LaunchTemplateNames {
			found := false
			for _, lt := range lts {
				if lt.name == name {
					kept, found = append(kept, lt), true
				}
			}
			if !found {
				return nil, apiError("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
			}
		}
		lts = kept
	}
	if lts, err = applyFilters(lts, in.Filters, launchTemplateFilters); err != nil {
		return nil, err
	}
	page, next, err := paginate(lts, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeLaunchTemplatesOutput{NextToken: next, LaunchTemplates: []types.LaunchTemplate{}}
	for _, lt := range page {
		out.LaunchTemplates = append(out.LaunchTemplates, s.launchTemplateOut(lt))
	}
	return out, nil
}

func (s *Sim) describeLaunchTemplateVersions(in *ec2.DescribeLaunchTemplateVersionsInput) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	lt, err := s.findLaunchTemplate(in.LaunchTemplateId, in.LaunchTemplateName)
	if err != nil {
		return nil, err
	}
	var versions []*ltVersion
	if len(in.Versions) > 0 {
		for _, v := range in.Versions {
			ver, err := lt.version(v)
			if err != nil {
				return nil, err
			}
			versions = append(versions, ver)
		}
	} else {
		lo, hi := int64(0), int64(1<<62)
		if in.MinVersion != nil {
			if v, err := lt.version(*in.MinVersion); err == nil {
				lo = v.number
			}
		}
		if in.MaxVersion != nil {
			if v, err := lt.version(*in.MaxVersion); err == nil {
				hi = v.number
			}
		}
		for _, v := range lt.versions {
			if v.number >= lo && v.number <= hi {
				versions = append(versions, v)
			}
		}
	}
	page, next, err := paginate(versions, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ec2.DescribeLaunchTemplateVersionsOutput{NextToken: next, LaunchTemplateVersions: []types.LaunchTemplateVersion{}}
	for _, v := range page {
		out.LaunchTemplateVersions = append(out.LaunchTemplateVersions, s.versionOut(lt, v))
	}
	return out, nil
}

func (s *Sim) modifyLaunchTemplate(in *ec2.ModifyLaunchTemplateInput) (*ec2.ModifyLaunchTemplateOutput, error) {
	lt, err := s.findLaunchTemplate(in.LaunchTemplateId, in.LaunchTemplateName)
	if err != nil {
		return nil, err
	}
	if in.DefaultVersion != nil {
		v, err := lt.version(*in.DefaultVersion)
		if err != nil {
			return nil, err
		}
		lt.defaultVersion = v.number
	}
	out := s.launchTemplateOut(lt)
	return &ec2.ModifyLaunchTemplateOutput{LaunchTemplate: &out}, nil
}

func (s *Sim) deleteLaunchTemplate(in *ec2.DeleteLaunchTemplateInput) (*ec2.DeleteLaunchTemplateOutput, error) {
	lt, err := s.findLaunchTemplate(in.LaunchTemplateId, in.LaunchTemplateName)
	if err != nil {
		return nil, err
	}
	out := s.launchTemplateOut(lt)
	delete(s.ec2.launchTemplates, lt.id)
	return &ec2.DeleteLaunchTemplateOutput{LaunchTemplate: &out}, nil
}
