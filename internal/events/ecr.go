package events

import lambdaevents "github.com/aws/aws-lambda-go/events"

// DetailTypeECRImageAction is the detail type of an image push or delete.
const DetailTypeECRImageAction = "ECR Image Action"

// ECR image action types and results, as the events name them.
const (
	ECRActionPush    = "PUSH"
	ECRActionDelete  = "DELETE"
	ECRResultSuccess = "SUCCESS"
	ECRResultFailure = "FAILURE"
)

// ECRImageAction is the detail of an "ECR Image Action" event (aws.ecr):
// aws-lambda-go's ECRImageActionEventDetailType. A push by digest alone has
// no image-tag. The documented example abbreviates its digest; a successful
// push's image-digest must be a whole sha256 digest here, since the rollout
// pins images by it.
//
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html
type ECRImageAction lambdaevents.ECRImageActionEventDetailType

// EventSource is aws.ecr.
func (ECRImageAction) EventSource() string { return SourceECR }

// EventDetailType is "ECR Image Action".
func (ECRImageAction) EventDetailType() string { return DetailTypeECRImageAction }

func (d ECRImageAction) problems([]string) []string {
	var c checker
	c.oneOf("action-type", d.ActionType, ECRActionPush, ECRActionDelete)
	c.oneOf("result", d.Result, ECRResultSuccess, ECRResultFailure)
	c.required("repository-name", d.RepositoryName)
	if d.ActionType == ECRActionPush && d.Result == ECRResultSuccess {
		c.matches("image-digest", d.ImageDigest, digestRe)
	}
	return c
}

// ParseECRImageAction parses an "ECR Image Action" event.
func ParseECRImageAction(raw []byte) (Event[ECRImageAction], error) {
	return Parse[ECRImageAction](raw)
}
