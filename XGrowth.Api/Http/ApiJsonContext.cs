using System.Text.Json;
using System.Text.Json.Serialization;
using XGrowth.Api.Analytics;
using XGrowth.Api.Calendar;
using XGrowth.Api.Media;
using XGrowth.Api.Posts;
using XGrowth.Api.Queue;
using XGrowth.Api.Users;
using XGrowth.Api.Webhooks;
using XGrowth.Api.XAccounts;
using XGrowth.Data;

namespace XGrowth.Api.Http;

/// <summary>
/// Source-generated JSON for the API's requests and responses (camelCase, enums as snake_case strings): no reflection
/// at run time, which matters for the calendar's hundreds of posts per response.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(CalendarApi.CalendarResponse))]
[JsonSerializable(typeof(Page<PostResponse>))]
[JsonSerializable(typeof(PostResponse))]
[JsonSerializable(typeof(MediaApi.MediaResponse))]
[JsonSerializable(typeof(MediaApi.MediaPage))]
[JsonSerializable(typeof(MediaApi.UpdateMediaRequest))]
[JsonSerializable(typeof(MediaType))]
[JsonSerializable(typeof(PostsApi.CreatePostRequest))]
[JsonSerializable(typeof(PostsApi.UpdatePostRequest))]
[JsonSerializable(typeof(PostsApi.SchedulePostRequest))]
[JsonSerializable(typeof(MeApi.SettingsRequest))]
[JsonSerializable(typeof(MeApi.SettingsResponse))]
[JsonSerializable(typeof(QueueApi.ScheduleRequest))]
[JsonSerializable(typeof(QueueApi.ScheduleResponse))]
[JsonSerializable(typeof(QueueApi.QueueOrderRequest))]
[JsonSerializable(typeof(List<QueueApi.QueueSlot>))]
[JsonSerializable(typeof(MeApi.UserResponse))]
[JsonSerializable(typeof(XAccountsApi.XAccountList))]
[JsonSerializable(typeof(ClerkWebhooksApi.WebhookReceipt))]
[JsonSerializable(typeof(ClerkWebhooksApi.WebhookEndpointInfo))]
[JsonSerializable(typeof(XAccountsApi.XAccountResponse))]
[JsonSerializable(typeof(XConnectApi.CallbackRequest))]
[JsonSerializable(typeof(XConnectApi.ConnectResponse))]
[JsonSerializable(typeof(ScheduledPostStatus))]
[JsonSerializable(typeof(XAccountStatus))]
[JsonSerializable(typeof(FollowerHistory))]
[JsonSerializable(typeof(PostAnalyticsPage))]
[JsonSerializable(typeof(AccountSummary))]
[JsonSerializable(typeof(PostMetricKind))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
