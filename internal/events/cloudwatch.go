package events

// DetailTypeAlarmStateChange is the detail type of an alarm's state change.
const DetailTypeAlarmStateChange = "CloudWatch Alarm State Change"

// Alarm states, as the events name them.
const (
	AlarmOK               = "OK"
	AlarmAlarm            = "ALARM"
	AlarmInsufficientData = "INSUFFICIENT_DATA"
)

// AlarmStateChange is the detail of a "CloudWatch Alarm State Change" event
// (aws.cloudwatch) for a single-metric alarm, in the documented field order.
// The event's resources name the alarm.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
type AlarmStateChange struct {
	AlarmName     string             `json:"alarmName"`
	Configuration AlarmConfiguration `json:"configuration"`
	PreviousState AlarmState         `json:"previousState"`
	State         AlarmState         `json:"state"`
}

// AlarmState is an alarm's state before or after the change.
type AlarmState struct {
	Reason     string `json:"reason"`
	ReasonData string `json:"reasonData,omitempty"`
	Timestamp  string `json:"timestamp"`
	Value      string `json:"value"`
}

// AlarmConfiguration is the alarm's description and metrics.
type AlarmConfiguration struct {
	Description string        `json:"description,omitempty"`
	Metrics     []AlarmMetric `json:"metrics"`
}

// AlarmMetric is one metric the alarm watches.
type AlarmMetric struct {
	ID         string          `json:"id"`
	MetricStat AlarmMetricStat `json:"metricStat"`
	ReturnData bool            `json:"returnData"`
}

// AlarmMetricStat is a metric with its period and statistic.
type AlarmMetricStat struct {
	Metric AlarmMetricName `json:"metric"`
	Period int32           `json:"period"`
	Stat   string          `json:"stat"`
}

// AlarmMetricName identifies a metric.
type AlarmMetricName struct {
	Dimensions map[string]string `json:"dimensions"`
	Name       string            `json:"name"`
	Namespace  string            `json:"namespace"`
}

// EventSource is aws.cloudwatch.
func (AlarmStateChange) EventSource() string { return SourceCloudWatch }

// EventDetailType is "CloudWatch Alarm State Change".
func (AlarmStateChange) EventDetailType() string { return DetailTypeAlarmStateChange }

func (d AlarmStateChange) problems(resources []string) []string {
	var c checker
	c.required("alarmName", d.AlarmName)
	c.oneOf("state.value", d.State.Value, AlarmOK, AlarmAlarm, AlarmInsufficientData)
	c.oneOf("previousState.value", d.PreviousState.Value, AlarmOK, AlarmAlarm, AlarmInsufficientData)
	c.resource(resources, "arn:aws:cloudwatch:")
	return c
}

// ParseAlarmStateChange parses a "CloudWatch Alarm State Change" event.
func ParseAlarmStateChange(raw []byte) (Event[AlarmStateChange], error) {
	return Parse[AlarmStateChange](raw)
}
