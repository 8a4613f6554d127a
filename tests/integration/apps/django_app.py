"""A one-file Django project served unchanged."""

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("django ok")


def upload(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"size": len(request.body), "method": request.method})


urlpatterns = [path("", index), path("upload", upload)]
application = get_wsgi_application()
