"""Layout rules a client test cannot see: no select cuts off its labels, SKUs and order numbers stay on one line."""

import pytest

from tests.orders.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SELECTS_FIT = """() => [...document.querySelectorAll('form.filters select, .bulkbar select')].map(select => {
  const probe = document.createElement('span');
  probe.style.font = getComputedStyle(select).font;
  probe.style.position = 'absolute'; probe.style.whiteSpace = 'pre';
  document.body.appendChild(probe);
  const widest = Math.max(...[...select.options].map(o => { probe.textContent = o.text; return probe.offsetWidth; }));
  probe.remove();
  const style = getComputedStyle(select);
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {name: select.name, widest, room};
})"""


@pytest.mark.parametrize("width", [1366, 820])
def test_selects_show_their_labels_and_codes_do_not_wrap(login, browser, live_server, django_user_model, width,
                                                         make_product, place):  # fmt: skip
    django_user_model.objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    make_product(sku="DESK-STANDING-160X80-OAK", unit_price="10.00")
    place({"DESK-STANDING-160X80-OAK": 3}, customer=CustomerFactory(name="A customer with a rather long name"))
    page = login("staff", "pw")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/backorders/")
    for select in page.evaluate(SELECTS_FIT):
        assert select["widest"] <= select["room"] + 1, select
    for code in page.locator("table.queue .mono").all():
        assert code.evaluate("e => e.getClientRects().length") == 1
        box = code.bounding_box()
        line = float(code.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20"))
        assert box["height"] <= line * 1.3, code.inner_text()
