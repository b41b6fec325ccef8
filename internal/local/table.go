package local

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ecsplane/ecsplane/internal/awserr"
)

// LedgerTableID is the ledger table's logical ID in template.yaml.
const LedgerTableID = "LedgerTable"

// DynamoDBAdminAPI is the subset of the DynamoDB client that creates tables.
type DynamoDBAdminAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ DynamoDBAdminAPI = (*dynamodb.Client)(nil)

// CreateTable creates the template's table under tableName and waits until
// it is active. An existing table is left as it is.
func CreateTable(ctx context.Context, db DynamoDBAdminAPI, tmpl *Template, logicalID, tableName string) error {
	in, err := tmpl.CreateTableInput(logicalID, tableName)
	if err != nil {
		return err
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		if awserr.Code(err) != "ResourceInUseException" {
			return fmt.Errorf("creating table %s: %w", tableName, err)
		}
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, 30*time.Second); err != nil {
		return fmt.Errorf("waiting for table %s: %w", tableName, err)
	}
	return nil
}
