package sim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// apiError returns an unmodelled AWS API error, the kind the SDK builds from
// an error response whose code has no generated type (all of EC2's errors,
// for example).
func apiError(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...), Fault: faultOf(code)}
}

// faultOf classifies a code the way AWS's responses do: server-side codes are
// the service's fault, everything else the caller's.
func faultOf(code string) smithy.ErrorFault {
	switch code {
	case "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable", "ServerException", "InternalServerError":
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// statusOf returns the HTTP status AWS sends with code.
func statusOf(code string) int {
	switch {
	case code == "RequestLimitExceeded" || code == "ServiceUnavailable" || code == "Unavailable":
		return http.StatusServiceUnavailable
	case faultOf(code) == smithy.FaultServer:
		return http.StatusInternalServerError
	case code == "DryRunOperation":
		return http.StatusPreconditionFailed
	case code == "ConflictException":
		return http.StatusConflict
	case code == "ResourceNotFoundException":
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// wrapResponseError gives err the wrapping the SDK's deserializers give an
// error response, so callers that look for the HTTP status or request ID find
// them.
func wrapResponseError(requestID string, err error) error {
	code := ""
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	resp := &http.Response{StatusCode: statusOf(code), Header: http.Header{}}
	resp.Header.Set("X-Amzn-Requestid", requestID)
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: err},
		RequestID:     requestID,
	}
}

// notFoundEC2 is EC2's error for IDs that do not exist, worded as AWS words
// it for one ID or several.
func notFoundEC2(code, noun string, ids ...string) error {
	if len(ids) == 1 {
		return apiError(code, "The %s ID '%s' does not exist", noun, ids[0])
	}
	return apiError(code, "The %s IDs '%s' do not exist", noun, strings.Join(ids, ", "))
}

// dependencyViolation is EC2's refusal to delete a resource that others use.
func dependencyViolation(noun, id string) error {
	return apiError("DependencyViolation", "The %s '%s' has dependencies and cannot be deleted.", noun, id)
}

// invalidParam is EC2's generic bad-value error.
func invalidParam(format string, args ...any) error {
	return apiError("InvalidParameterValue", format, args...)
}

// validationError is the query services' (Auto Scaling, CloudWatch) generic
// bad-input error.
func validationError(format string, args ...any) error {
	return apiError("ValidationError", format, args...)
}
