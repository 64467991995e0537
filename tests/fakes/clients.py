"""Real SDK clients pointed at a `FakeProvider` (no retries, fake credentials)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic
    from google import genai
    from openai import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI

__all__ = [
    "FAKE_ANTHROPIC_KEY",
    "FAKE_AZURE_KEY",
    "FAKE_GEMINI_KEY",
    "FAKE_OPENAI_KEY",
    "anthropic_client",
    "azure_openai_client",
    "genai_client",
    "openai_client",
]

FAKE_OPENAI_KEY = "sk-fake-openai-key-0000000000000000"
FAKE_AZURE_KEY = "fake-azure-key-00000000000000000000"
FAKE_ANTHROPIC_KEY = "sk-ant-fake-anthropic-key-00000000"
FAKE_GEMINI_KEY = "AIzaFakeGeminiKey000000000000000000"
AZURE_API_VERSION = "2024-12-01-preview"


@overload
def openai_client(url: str, *, api_key: str = ..., async_: Literal[False] = ..., **kwargs: Any) -> OpenAI: ...
@overload
def openai_client(url: str, *, api_key: str = ..., async_: Literal[True], **kwargs: Any) -> AsyncOpenAI: ...
def openai_client(
    url: str, *, api_key: str = FAKE_OPENAI_KEY, async_: bool = False, **kwargs: Any
) -> OpenAI | AsyncOpenAI:
    """OpenAI client for ``url`` (the SDK wants the base URL to end in ``/v1``)."""
    from openai import AsyncOpenAI, OpenAI

    cls = AsyncOpenAI if async_ else OpenAI
    options: dict[str, Any] = {"max_retries": 0, "timeout": 10.0, **kwargs}
    return cls(api_key=api_key, base_url=f"{url.rstrip('/')}/v1", **options)


@overload
def azure_openai_client(
    url: str,
    *,
    api_key: str = ...,
    api_version: str = ...,
    azure_deployment: str | None = ...,
    async_: Literal[False] = ...,
    **kwargs: Any,
) -> AzureOpenAI: ...
@overload
def azure_openai_client(
    url: str,
    *,
    api_key: str = ...,
    api_version: str = ...,
    azure_deployment: str | None = ...,
    async_: Literal[True],
    **kwargs: Any,
) -> AsyncAzureOpenAI: ...
def azure_openai_client(
    url: str,
    *,
    api_key: str = FAKE_AZURE_KEY,
    api_version: str = AZURE_API_VERSION,
    azure_deployment: str | None = None,
    async_: bool = False,
    **kwargs: Any,
) -> AzureOpenAI | AsyncAzureOpenAI:
    """Azure OpenAI client; requests go to ``/openai/deployments/{model}/...?api-version=...``."""
    from openai import AsyncAzureOpenAI, AzureOpenAI

    cls = AsyncAzureOpenAI if async_ else AzureOpenAI
    options: dict[str, Any] = {"max_retries": 0, "timeout": 10.0, **kwargs}
    return cls(
        azure_endpoint=url.rstrip("/"),
        azure_deployment=azure_deployment,
        api_key=api_key,
        api_version=api_version,
        **options,
    )


@overload
def anthropic_client(url: str, *, api_key: str = ..., async_: Literal[False] = ..., **kwargs: Any) -> Anthropic: ...
@overload
def anthropic_client(url: str, *, api_key: str = ..., async_: Literal[True], **kwargs: Any) -> AsyncAnthropic: ...
def anthropic_client(
    url: str, *, api_key: str = FAKE_ANTHROPIC_KEY, async_: bool = False, **kwargs: Any
) -> Anthropic | AsyncAnthropic:
    """Anthropic client for ``url`` (the SDK appends ``/v1/messages`` itself)."""
    from anthropic import Anthropic, AsyncAnthropic

    cls = AsyncAnthropic if async_ else Anthropic
    options: dict[str, Any] = {"max_retries": 0, "timeout": 10.0, **kwargs}
    return cls(api_key=api_key, base_url=url.rstrip("/"), **options)


def genai_client(
    url: str,
    *,
    api_key: str = FAKE_GEMINI_KEY,
    async_transport: Literal["aiohttp", "httpx"] = "aiohttp",
    **http_options: Any,
) -> genai.Client:
    """google-genai client for ``url`` (Gemini Developer API, ``v1beta``, no retries).

    Use ``client.aio`` for async calls. With aiohttp installed the SDK sends async requests
    through aiohttp; ``async_transport="httpx"`` makes it use its httpx2 client instead.
    """
    from google import genai
    from google.genai import types

    options: dict[str, Any] = {
        "base_url": url.rstrip("/") + "/",
        "api_version": "v1beta",
        "timeout": 10_000,
        "retry_options": types.HttpRetryOptions(attempts=1),
        **http_options,
    }
    if async_transport == "httpx":
        import httpx2

        options["async_client_args"] = {
            "transport": httpx2.AsyncHTTPTransport(),
            **options.get("async_client_args", {}),
        }
    return genai.Client(vertexai=False, api_key=api_key, http_options=types.HttpOptions(**options))
