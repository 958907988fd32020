# ruff: noqa: E501 -- a phrase bank: one natural sentence per line
"""Bilingual (English / Russian) phrase banks for the demo dataset and the synthetic benchmark data.

Each topic has, per language, client openers (`open`), client follow-ups (`follow`), agent replies
(`reply`) and client closings (`close`). Templates use `{slots}` filled by `fill()`. The same topics
exist in both languages with different wording, so search can be evaluated across paraphrases and
across languages.
"""

from __future__ import annotations

import random
from typing import Any

SLOTS: dict[str, dict[str, list[str]]] = {
    "en": {
        "deadline": ["by Friday", "before the end of the month", "by next Tuesday", "by the 15th",
                     "before our board meeting", "before the holiday sale"],
        "platform": ["Android 14", "iOS 17", "a Samsung Galaxy A54", "an iPhone 12", "a Pixel 7", "iPadOS"],
        "page": ["on the checkout page", "on the dashboard", "in the product catalogue",
                 "on the order history page", "in search results", "on the pricing page"],
        "feature": ["a loyalty points widget", "dark mode", "a second language switcher",
                    "push notifications for promotions", "a PDF export of orders",
                    "an integration with our accounting system", "a referral programme page"],
        "format": ["CSV", "Excel", "JSON"],
        "seconds": ["8 seconds", "12 seconds", "almost 20 seconds", "15 seconds"],
        "thing": ["the homepage mockups", "the updated estimate", "the sprint plan", "the new logo options",
                  "the release notes", "the change request"],
        "env": ["staging", "production", "the preview environment"],
    },
    "ru": {
        "deadline": ["до пятницы", "до конца месяца", "к следующему вторнику", "до 15-го числа",
                     "до заседания совета директоров", "до начала распродажи"],
        "platform": ["Android 14", "iOS 17", "Samsung Galaxy A54", "iPhone 12", "Pixel 7", "Xiaomi Redmi Note 12"],
        "page": ["на странице оформления заказа", "в личном кабинете", "в каталоге товаров",
                 "в истории заказов", "на странице поиска", "на странице тарифов"],
        "feature": ["виджет бонусных баллов", "тёмную тему", "переключатель языков",
                    "push-уведомления об акциях", "выгрузку заказов в PDF", "интеграцию с 1С",
                    "страницу реферальной программы"],
        "format": ["CSV", "Excel", "JSON"],
        "seconds": ["8 секунд", "12 секунд", "почти 20 секунд", "15 секунд"],
        "thing": ["макеты главной страницы", "обновлённую смету", "план спринта", "варианты нового логотипа",
                  "описание релиза", "запрос на изменение"],
        "env": ["стейджинге", "продакшене", "тестовом стенде"],
    },
}

T = dict[str, list[str]]

TOPICS: dict[str, dict[str, T]] = {
    "invoice": {
        "en": {
            "open": [
                "Hi, we received invoice {invoice} for {amount} but it doesn't match the estimate we agreed on. Can you check it?",
                "Our accounts team is asking why invoice {invoice} lists 40 hours of QA — we only approved 25.",
                "Could you resend the invoice for last month? Finance can't find it and the bill is due {deadline}.",
                "We were charged twice this month: two identical invoices ({invoice}). Please cancel one.",
                "Can you split invoice {invoice} into two — one for design work and one for development? Our budget lines are separate.",
            ],
            "follow": [
                "Any news on the corrected invoice? Our payment run closes {deadline}.",
                "Also, please put our VAT number on the invoice, it was missing last time.",
                "Thanks. Can you also send the timesheet that backs up the hours on the bill?",
            ],
            "reply": [
                "Thanks for flagging this. I've checked invoice {invoice}: the extra hours came from the hotfix weekend. I'll send a corrected version today.",
                "You're right, the duplicate charge was our mistake — the second invoice is void and you won't be billed for it.",
                "I've attached the invoice again together with the timesheet for the period.",
                "Finance will reissue the bill with your VAT number and the two separate budget lines.",
            ],
            "close": [
                "Got the corrected invoice, thank you. We'll pay it this week.",
                "Perfect, the numbers add up now.",
                "Thanks, finance confirmed everything is in order.",
            ],
        },
        "ru": {
            "open": [
                "Добрый день! Пришёл счёт {invoice} на {amount}, но сумма не совпадает с согласованной сметой. Проверьте, пожалуйста.",
                "Бухгалтерия спрашивает, почему в счёте {invoice} указано 40 часов тестирования — мы утверждали 25.",
                "Пришлите, пожалуйста, повторно счёт за прошлый месяц — бухгалтерия его не нашла, а оплатить нужно {deadline}.",
                "Нам выставили два одинаковых счёта ({invoice}) за один месяц. Отмените, пожалуйста, один из них.",
                "Можно разделить счёт {invoice} на два: отдельно дизайн и отдельно разработку? У нас разные статьи бюджета.",
            ],
            "follow": [
                "Есть новости по исправленному счёту? Оплатить его нам нужно {deadline}.",
                "И добавьте, пожалуйста, в счёт наши реквизиты и ИНН — в прошлый раз их не было.",
                "Спасибо. Пришлите ещё закрывающие документы — акт и табель часов.",
            ],
            "reply": [
                "Спасибо, что заметили. Проверила счёт {invoice}: лишние часы — это выходные с хотфиксом. Сегодня пришлю исправленный вариант.",
                "Вы правы, второй счёт выставлен по ошибке — мы его аннулировали, оплачивать не нужно.",
                "Приложила счёт ещё раз вместе с актом выполненных работ и табелем часов.",
                "Бухгалтерия перевыставит счёт с вашими реквизитами и разбивкой по статьям бюджета.",
            ],
            "close": [
                "Исправленный счёт получили, спасибо! Оплатим на этой неделе.",
                "Отлично, теперь всё сходится.",
                "Спасибо, бухгалтерия подтвердила, что документы в порядке.",
            ],
        },
    },
    "payment_delay": {
        "en": {
            "open": [
                "Heads up: our payment for invoice {invoice} will be about two weeks late, the budget approval got stuck.",
                "Sorry for the delay with the transfer — our CFO is travelling and needs to sign off the payment.",
                "We can't pay the full {amount} this month. Would a payment plan in two instalments work for you?",
                "Our bank flagged the wire to your account, so the payment bounced. Can you confirm your IBAN?",
            ],
            "follow": [
                "The transfer went out this morning, it should land in two or three business days.",
                "Finance says the remaining half will be paid {deadline}.",
                "Can you hold off on pausing the work? The money is definitely coming.",
            ],
            "reply": [
                "Thanks for letting us know. Invoice {invoice} is now 30 days overdue, so please share the expected payment date.",
                "A two-instalment plan works for us: half now and half {deadline}.",
                "Friendly reminder that the outstanding balance of {amount} is still unpaid. Could you check with accounts payable?",
                "Our bank details haven't changed; I've sent the confirmation letter on our letterhead.",
            ],
            "close": [
                "Payment confirmed on our side, please check your account.",
                "Thanks for being flexible with the instalments.",
                "All settled now, sorry again for the delay.",
            ],
        },
        "ru": {
            "open": [
                "Предупреждаю: оплата по счёту {invoice} задержится примерно на две недели, бюджет ещё не утвердили.",
                "Извините за задержку платежа — финансовый директор в командировке, некому подписать платёжку.",
                "Всю сумму {amount} в этом месяце оплатить не получится. Можно разбить на два платежа?",
                "Банк вернул наш платёж на ваш счёт. Подтвердите, пожалуйста, реквизиты.",
            ],
            "follow": [
                "Платёж отправили сегодня утром, деньги придут в течение двух-трёх рабочих дней.",
                "Бухгалтерия обещает оплатить оставшуюся половину {deadline}.",
                "Пожалуйста, не останавливайте работы — оплата точно будет.",
            ],
            "reply": [
                "Спасибо, что предупредили. Счёт {invoice} просрочен уже на 30 дней — подскажите ориентировочную дату оплаты.",
                "Оплата двумя частями нам подходит: половина сейчас, вторая {deadline}.",
                "Напоминаю, что задолженность {amount} всё ещё не погашена. Уточните, пожалуйста, у бухгалтерии.",
                "Реквизиты у нас не менялись, письмо-подтверждение на бланке компании отправила.",
            ],
            "close": [
                "Оплату провели, проверьте поступление.",
                "Спасибо, что пошли навстречу с рассрочкой.",
                "Всё закрыли, ещё раз извините за задержку.",
            ],
        },
    },
    "deployment_failure": {
        "en": {
            "open": [
                "The deploy to {env} failed again last night and the site is showing a 502. What happened?",
                "Release {version} broke the build pipeline — CI has been red since this morning.",
                "After yesterday's release the admin panel won't load on {env}. Can someone roll back?",
                "We pushed the hotfix but the deployment is stuck at the database migration step.",
                "Urgent: production is down after the deploy, customers can't place orders.",
            ],
            "follow": [
                "Still seeing errors in the logs after the rollback. Is the root cause known?",
                "Can you add a smoke test so a broken release never reaches production again?",
                "Please send a short post-mortem once it's fixed, our management will ask.",
            ],
            "reply": [
                "We've rolled back to the previous version and the site is up. The failed migration locked a table; we're fixing it now.",
                "The pipeline broke because a dependency was yanked upstream. We pinned the version and CI is green again.",
                "Root cause: an environment variable was missing on {env}. It's restored and the release {version} is redeployed.",
                "Post-mortem is attached: timeline, root cause and the checks we added to the release process.",
            ],
            "close": [
                "Confirmed, everything works on our side now.",
                "Thanks for the quick rollback, that saved our evening.",
                "Post-mortem received, looks thorough.",
            ],
        },
        "ru": {
            "open": [
                "Ночью снова упал деплой на {env}, сайт отдаёт 502. Что случилось?",
                "Релиз {version} сломал сборку — CI красный с самого утра.",
                "После вчерашнего релиза на {env} не открывается админка. Можно откатить?",
                "Залили хотфикс, но выкладка зависла на шаге миграции базы данных.",
                "Срочно: после выкладки лёг продакшен, клиенты не могут оформить заказ.",
            ],
            "follow": [
                "После отката в логах всё ещё ошибки. Причина уже понятна?",
                "Добавьте, пожалуйста, смоук-тесты, чтобы сломанный релиз больше не попадал в прод.",
                "Пришлите после исправления короткий разбор инцидента — руководство спросит.",
            ],
            "reply": [
                "Откатили на предыдущую версию, сайт работает. Упавшая миграция заблокировала таблицу, сейчас исправляем.",
                "Сборка сломалась из-за того, что внешнюю зависимость удалили из реестра. Зафиксировали версию, CI снова зелёный.",
                "Причина: на {env} не было переменной окружения. Вернули её и заново выложили релиз {version}.",
                "Разбор инцидента во вложении: хронология, причина и проверки, которые мы добавили в процесс релиза.",
            ],
            "close": [
                "Подтверждаю, у нас всё работает.",
                "Спасибо за быстрый откат, очень выручили.",
                "Разбор получили, всё подробно, спасибо.",
            ],
        },
    },
    "login_bug": {
        "en": {
            "open": [
                "Several users can't log in since this morning — they get 'invalid credentials' even with the right password.",
                "The password reset email never arrives. Our staff are locked out of their accounts.",
                "Single sign-on with Google stopped working {page}, it loops back to the login screen.",
                "After logging in, users are kicked out again within a minute. Looks like the session expires immediately.",
                "Two-factor codes are rejected as expired even when typed right away.",
            ],
            "follow": [
                "It seems to affect only accounts created before March.",
                "Our support inbox is filling up with 'cannot sign in' tickets, please prioritise.",
                "Is there a workaround we can give users in the meantime?",
            ],
            "reply": [
                "We reproduced the login bug: a cookie setting changed in the last release. A fix is going out within the hour.",
                "The reset emails were blocked by the mail provider's spam filter. We switched the sender domain and resent them.",
                "The SSO redirect URL was misconfigured after the domain change; it's corrected now.",
                "As a workaround users can sign in with the magic link while we fix the two-factor clock drift.",
            ],
            "close": [
                "Users can sign in again, thanks!",
                "Reset emails are arriving now.",
                "Confirmed fixed on our side.",
            ],
        },
        "ru": {
            "open": [
                "С утра часть пользователей не может войти в систему — пишет «неверный логин или пароль», хотя пароль правильный.",
                "Письмо для сброса пароля не приходит. Сотрудники не могут зайти в свои аккаунты.",
                "Перестал работать вход через Google {page}: после авторизации снова открывается страница логина.",
                "После входа пользователя выкидывает через минуту — похоже, сессия сразу истекает.",
                "Коды двухфакторной аутентификации отклоняются как просроченные, даже если ввести их сразу.",
            ],
            "follow": [
                "Похоже, проблема только у аккаунтов, созданных до марта.",
                "В поддержку сыпятся обращения «не могу авторизоваться», поставьте, пожалуйста, в приоритет.",
                "Есть временное решение, которое можно подсказать пользователям?",
            ],
            "reply": [
                "Воспроизвели ошибку авторизации: в последнем релизе изменилась настройка cookie. Исправление выкатим в течение часа.",
                "Письма для сброса пароля блокировал спам-фильтр почтового сервиса. Сменили домен отправителя и отправили их заново.",
                "После смены домена был неверно указан адрес возврата для SSO, исправили.",
                "Пока чиним рассинхронизацию времени для 2FA, можно входить по одноразовой ссылке из письма.",
            ],
            "close": [
                "Пользователи снова могут войти, спасибо!",
                "Письма со сбросом пароля теперь приходят.",
                "Подтверждаю, у нас всё исправлено.",
            ],
        },
    },
    "design_revision": {
        "en": {
            "open": [
                "We reviewed the mockups. Could you make the header lighter and try a bolder font for headlines?",
                "The new logo feels too corporate. Can we see two more playful options?",
                "Marketing wants the hero banner redesigned — less stock photography, more product screenshots.",
                "Please change the primary colour to our brand green, the blue doesn't match the guidelines.",
                "The mobile layout of the product card looks cramped, can you give it more whitespace?",
            ],
            "follow": [
                "One more round of revisions please: the icons look inconsistent between pages.",
                "Can you share the Figma link so our brand team can comment directly?",
                "The second variant is closer, but the buttons are too small.",
            ],
            "reply": [
                "Here are the revised mockups with the lighter header and a bolder headline font.",
                "We prepared two alternative logo concepts, see the attached board.",
                "Updated the colour palette to your brand green and checked contrast for accessibility.",
                "I've shared the Figma file with comment access for your brand team.",
            ],
            "close": [
                "Much better, the new design works for us.",
                "We like option B, let's go with it.",
                "The brand team is happy with the latest revision.",
            ],
        },
        "ru": {
            "open": [
                "Посмотрели макеты. Можно сделать шапку светлее и попробовать более жирный шрифт для заголовков?",
                "Новый логотип слишком строгий. Покажите, пожалуйста, ещё два варианта, посвободнее.",
                "Маркетинг просит переделать главный баннер: меньше стоковых фото, больше скриншотов продукта.",
                "Поменяйте, пожалуйста, основной цвет на наш фирменный зелёный — синий не соответствует брендбуку.",
                "Карточка товара в мобильной версии выглядит тесно, добавьте воздуха.",
            ],
            "follow": [
                "Нужен ещё один круг правок: иконки на разных страницах выглядят по-разному.",
                "Дайте ссылку на Figma, чтобы бренд-команда могла оставлять комментарии.",
                "Второй вариант ближе, но кнопки слишком мелкие.",
            ],
            "reply": [
                "Отправляю обновлённые макеты: шапка светлее, заголовки более жирным шрифтом.",
                "Подготовили две альтернативные концепции логотипа, смотрите во вложении.",
                "Обновили палитру под ваш фирменный зелёный и проверили контрастность.",
                "Открыла доступ к файлу в Figma с правом комментирования для бренд-команды.",
            ],
            "close": [
                "Стало намного лучше, дизайн нам подходит.",
                "Нам нравится вариант Б, берём его.",
                "Бренд-команда довольна последними правками.",
            ],
        },
    },
    "deadline": {
        "en": {
            "open": [
                "Will the release be ready {deadline}? We've already announced the launch date.",
                "Is the project still on track for the deadline? We haven't seen progress this week.",
                "We need the new checkout live {deadline} — is that realistic?",
                "Our launch was moved earlier. Could you deliver the MVP a week sooner?",
                "What's the current ETA for the integration? The deadline is getting close.",
            ],
            "follow": [
                "If the date slips, we need to know now so we can tell our partners.",
                "Can you share an updated timeline with the remaining milestones?",
                "Which features could we cut to hit the date?",
            ],
            "reply": [
                "We're on track: development finishes this week and QA starts Monday, so the release lands {deadline}.",
                "Honest update: the payment integration is late by about four days because the provider's sandbox was down.",
                "Delivering a week earlier is possible if we move reporting to phase two.",
                "Here is the revised timeline with milestones and owners.",
            ],
            "close": [
                "Thanks for the transparency, the new date works.",
                "Great, we'll keep the launch date then.",
                "OK, let's move reporting to phase two.",
            ],
        },
        "ru": {
            "open": [
                "Успеете с релизом {deadline}? Мы уже объявили дату запуска.",
                "Проект укладывается в сроки? На этой неделе не видно движения.",
                "Нам нужно запустить новое оформление заказа {deadline} — это реально?",
                "Запуск перенесли на более ранний срок. Сможете сдать MVP на неделю раньше?",
                "Какой сейчас срок по интеграции? Дедлайн уже близко.",
            ],
            "follow": [
                "Если сроки сдвигаются, скажите сейчас, нам нужно предупредить партнёров.",
                "Пришлите, пожалуйста, обновлённый график с оставшимися этапами.",
                "Какие функции можно убрать, чтобы успеть к дате?",
            ],
            "reply": [
                "Идём по графику: разработку закончим на этой неделе, с понедельника тестирование, релиз {deadline}.",
                "Честно: интеграция с платёжкой задерживается примерно на четыре дня — у провайдера не работала песочница.",
                "Сдать на неделю раньше можно, если перенести отчёты во второй этап.",
                "Отправляю обновлённый план-график с этапами и ответственными.",
            ],
            "close": [
                "Спасибо за прозрачность, новая дата подходит.",
                "Отлично, тогда дату запуска не меняем.",
                "Хорошо, переносим отчёты во второй этап.",
            ],
        },
    },
    "contract_renewal": {
        "en": {
            "open": [
                "Our support contract ends next month. Can you send a renewal proposal for another year?",
                "We'd like to renew the retainer but with 20 more hours per month. What would that cost?",
                "Legal asked for the updated MSA before we sign the renewal.",
                "Before renewing, we want to review the SLA terms — response times were an issue this quarter.",
            ],
            "follow": [
                "Could the renewal include a small discount for a two-year commitment?",
                "Please add a clause about data processing, our DPO insists.",
                "We're ready to sign, just need the final PDF.",
            ],
            "reply": [
                "Attached is the renewal proposal: same scope, 12 months, with the rate locked for the whole term.",
                "Adding 20 hours a month brings the retainer to {amount}; I've included both options.",
                "Our legal team sent the updated master services agreement with the data processing addendum.",
                "For a two-year term we can offer 7% off. The SLA section now guarantees a four-hour first response.",
            ],
            "close": [
                "Signed and sent back, looking forward to another year.",
                "The renewal terms are agreed.",
                "Legal approved the contract, thanks.",
            ],
        },
        "ru": {
            "open": [
                "Договор на поддержку заканчивается в следующем месяце. Пришлите, пожалуйста, предложение о продлении на год.",
                "Хотим продлить абонемент, но на 20 часов в месяц больше. Сколько это будет стоить?",
                "Юристы просят обновлённый рамочный договор, прежде чем подписывать продление.",
                "Перед продлением хотим пересмотреть SLA — в этом квартале были проблемы со временем реакции.",
            ],
            "follow": [
                "Можно ли получить скидку, если продлим сразу на два года?",
                "Добавьте, пожалуйста, пункт об обработке персональных данных — настаивает наш юрист.",
                "Готовы подписывать, нужен только финальный PDF.",
            ],
            "reply": [
                "Во вложении предложение о продлении: тот же объём работ, 12 месяцев, ставка зафиксирована на весь срок.",
                "С дополнительными 20 часами абонемент составит {amount}; прислала оба варианта.",
                "Наши юристы отправили обновлённый договор с приложением об обработке персональных данных.",
                "При продлении на два года дадим скидку 7%. В разделе SLA теперь гарантированный первый ответ за четыре часа.",
            ],
            "close": [
                "Подписали и отправили, рады продолжить сотрудничество.",
                "Условия продления согласованы.",
                "Юристы одобрили договор, спасибо.",
            ],
        },
    },
    "performance": {
        "en": {
            "open": [
                "The site has become really slow — pages take {seconds} to load {page}.",
                "Our API response times doubled this week. Dashboards are timing out.",
                "Google PageSpeed gives us 38 on mobile now. It was above 80 before the redesign.",
                "Search is sluggish when the catalogue filter is on; customers are complaining.",
            ],
            "follow": [
                "It's worst in the evening when traffic peaks.",
                "Can you set up monitoring so we see latency before customers do?",
                "Any quick wins while you work on the bigger fix?",
            ],
            "reply": [
                "We found a missing database index on the orders table; adding it cut the response time from seconds to milliseconds.",
                "Images weren't being compressed after the redesign. We enabled WebP and lazy loading — the mobile score is back to 85.",
                "We added caching for the catalogue filter; search latency dropped by 70%.",
                "I've set up latency alerts and a public status page so you'll see slowdowns early.",
            ],
            "close": [
                "Pages load instantly now, great job.",
                "The dashboards are fast again.",
                "Noticeably quicker, thanks.",
            ],
        },
        "ru": {
            "open": [
                "Сайт стал очень медленным — {page} всё грузится {seconds}.",
                "Время ответа API на этой неделе выросло вдвое, дашборды отваливаются по таймауту.",
                "PageSpeed показывает 38 баллов на мобильных, а до редизайна было больше 80.",
                "Поиск тормозит, когда включён фильтр каталога, покупатели жалуются.",
            ],
            "follow": [
                "Хуже всего вечером, в часы пик.",
                "Можно настроить мониторинг, чтобы мы узнавали о тормозах раньше клиентов?",
                "Есть быстрые улучшения, пока вы делаете основное исправление?",
            ],
            "reply": [
                "Нашли отсутствующий индекс в таблице заказов; после добавления время ответа упало с секунд до миллисекунд.",
                "После редизайна картинки не сжимались. Включили WebP и ленивую загрузку — мобильный балл снова 85.",
                "Добавили кеширование для фильтра каталога, поиск стал быстрее на 70%.",
                "Настроила оповещения о задержках и страницу статуса — замедления будут видны заранее.",
            ],
            "close": [
                "Страницы теперь открываются мгновенно, отличная работа.",
                "Дашборды снова быстрые.",
                "Заметно шустрее, спасибо.",
            ],
        },
    },
    "mobile_crash": {
        "en": {
            "open": [
                "The app crashes on {platform} as soon as you open the cart.",
                "Version {version} of the mobile app closes itself when users upload a photo.",
                "We're getting one-star reviews: the app freezes on the splash screen on {platform}.",
                "Push notifications open the app and it immediately crashes.",
                "Crashlytics shows a spike of crashes after the last update, mostly on {platform}.",
            ],
            "follow": [
                "It happens every time with a poor network connection.",
                "Can you release a hotfix to the stores before the weekend?",
                "Attaching a screen recording of the crash.",
            ],
            "reply": [
                "Thanks for the crash report. A null pointer in the image picker caused it; the hotfix is in store review.",
                "We reproduced the crash on {platform}: the offline cache was corrupted. Build {version} fixes it.",
                "The push notification crash comes from a missing deep link route. Fixed and submitted to both stores.",
                "Crash-free sessions are back to 99.6% after the update.",
            ],
            "close": [
                "The new build works fine, no more crashes.",
                "Reviews are improving already, thanks.",
                "Confirmed, the app is stable now.",
            ],
        },
        "ru": {
            "open": [
                "Приложение вылетает на {platform}, как только открываешь корзину.",
                "Версия {version} мобильного приложения закрывается при загрузке фото.",
                "Нам ставят единицы в отзывах: на {platform} приложение зависает на заставке.",
                "При нажатии на push-уведомление приложение открывается и сразу падает.",
                "В Crashlytics резкий рост падений после последнего обновления, в основном на {platform}.",
            ],
            "follow": [
                "Падает каждый раз при плохом интернете.",
                "Сможете выпустить исправление в сторы до выходных?",
                "Прикладываю видео с экрана, где видно падение.",
            ],
            "reply": [
                "Спасибо за отчёт. Падение вызывала ошибка в выборе изображений; исправление уже на проверке в сторе.",
                "Воспроизвели вылет на {platform}: повреждался офлайн-кеш. Сборка {version} это исправляет.",
                "Падение из пуша — из-за отсутствующего маршрута диплинка. Исправили и отправили в оба стора.",
                "После обновления доля сессий без падений снова 99,6%.",
            ],
            "close": [
                "Новая сборка работает, вылетов больше нет.",
                "Отзывы уже стали лучше, спасибо.",
                "Подтверждаю, приложение стабильно.",
            ],
        },
    },
    "data_export": {
        "en": {
            "open": [
                "We need a full export of customer data in {format} for our annual audit.",
                "A customer filed a GDPR request — can you export all data we hold about them?",
                "The export button {page} produces an empty file.",
                "Could the monthly sales report be exported automatically to our shared drive?",
            ],
            "follow": [
                "Please include order history and consent timestamps in the export.",
                "The file should be encrypted, it contains personal data.",
                "Any update on the export? The auditors arrive next week.",
            ],
            "reply": [
                "The {format} export is ready; I've shared it via an encrypted link that expires in 7 days.",
                "We fixed the empty export: a timezone filter excluded every row. It works again.",
                "Scheduled the monthly report export; it will land in your shared drive on the 1st.",
                "The GDPR data package for that customer is attached, including order history and consents.",
            ],
            "close": [
                "Received the export, the auditors are happy.",
                "The export works again, thanks.",
                "Got the data package, all good.",
            ],
        },
        "ru": {
            "open": [
                "Нужна полная выгрузка данных клиентов в {format} для ежегодного аудита.",
                "Клиент прислал запрос на свои персональные данные — можете выгрузить всё, что у нас о нём хранится?",
                "Кнопка экспорта {page} выгружает пустой файл.",
                "Можно автоматически выгружать ежемесячный отчёт по продажам в нашу общую папку?",
            ],
            "follow": [
                "Добавьте в выгрузку историю заказов и даты согласий на обработку данных.",
                "Файл лучше зашифровать — там персональные данные.",
                "Как там выгрузка? Аудиторы приходят на следующей неделе.",
            ],
            "reply": [
                "Выгрузка в {format} готова, отправила защищённую ссылку, она действует 7 дней.",
                "Исправили пустой экспорт: фильтр по часовому поясу отбрасывал все строки. Снова работает.",
                "Настроили ежемесячную выгрузку отчёта — он будет появляться в общей папке первого числа.",
                "Пакет данных по запросу клиента во вложении, включая историю заказов и согласия.",
            ],
            "close": [
                "Выгрузку получили, аудиторы довольны.",
                "Экспорт снова работает, спасибо.",
                "Данные получили, всё в порядке.",
            ],
        },
    },
    "scope_creep": {
        "en": {
            "open": [
                "While you're at it, could you also add {feature}? It should be quick.",
                "Small extra request: we'd love {feature} on the homepage before launch.",
                "Can we squeeze {feature} into this sprint? Marketing just asked for it.",
                "One more thing — {feature}. I assume it's covered by the current budget?",
            ],
            "follow": [
                "Also, the client portal needs a second language now. Same deadline, right?",
                "We didn't think it was a separate change request, it's a tiny feature.",
                "OK, please send the estimate for the change request.",
            ],
            "reply": [
                "Happy to help, but {feature} is out of scope for the current phase. I'll prepare a change request with the estimate.",
                "That's a new feature outside the agreed scope; it adds roughly 3 days. Should we add it to phase two?",
                "We can fit {feature} into this sprint if we move the reporting page out — which do you prefer?",
                "Here's the change request: description, impact on the timeline and on the budget.",
            ],
            "close": [
                "Fair enough, let's put it in phase two.",
                "Change request approved, go ahead.",
                "OK, we'll skip it for now.",
            ],
        },
        "ru": {
            "open": [
                "Раз уж вы этим занимаетесь, добавьте ещё {feature}? Там же быстро.",
                "Маленькая доработка: очень хотим {feature} на главной до запуска.",
                "Можно впихнуть {feature} в этот спринт? Маркетинг только что попросил.",
                "И ещё — нужно дополнительно сделать {feature}. Это же входит в текущий бюджет?",
            ],
            "follow": [
                "И личному кабинету теперь нужен второй язык. Срок тот же, да?",
                "Мы не думали, что это отдельный запрос на изменение, функция же крошечная.",
                "Хорошо, пришлите оценку по доработке.",
            ],
            "reply": [
                "С удовольствием, но такая доработка вне скоупа текущего этапа. Подготовлю запрос на изменение с оценкой.",
                "Это новая функция за рамками согласованного объёма, плюс примерно 3 дня. Добавим во второй этап?",
                "Можем сделать {feature} в этом спринте, если перенесём страницу отчётов. Что важнее?",
                "Отправляю запрос на изменение: описание, влияние на сроки и бюджет.",
            ],
            "close": [
                "Справедливо, давайте во второй этап.",
                "Доработку согласовали, делайте.",
                "Хорошо, пока не будем.",
            ],
        },
    },
    "approval_waiting": {
        "en": {
            "open": [
                "We've received {thing}, will review with the team and come back to you.",
                "Thanks, I'll get approval from our director this week.",
                "Looks good at first glance, but I need sign-off from legal before we approve.",
            ],
            "follow": [
                "Sorry, still waiting on internal approval.",
                "Our director is on holiday, approval will take a bit longer.",
            ],
            "reply": [
                "Hi! Please approve {thing} so we can start the next stage — we're blocked until then.",
                "Just a reminder: we still need your approval on {thing} to keep the deadline.",
                "Could you confirm {thing} today? Otherwise the release date moves.",
                "Following up on {thing} — approve as is, send edits, or shall we do a 15-minute call?",
            ],
            "close": [
                "Approved, please go ahead.",
                "All approved on our side, thanks for waiting.",
            ],
        },
        "ru": {
            "open": [
                "Получили {thing}, обсудим с командой и вернёмся с ответом.",
                "Спасибо, на этой неделе согласую с директором.",
                "На первый взгляд всё хорошо, но перед подтверждением нужно согласование юристов.",
            ],
            "follow": [
                "Извините, всё ещё ждём внутреннего согласования.",
                "Директор в отпуске, согласование займёт чуть больше времени.",
            ],
            "reply": [
                "Добрый день! Подтвердите, пожалуйста, {thing}, чтобы мы начали следующий этап — без этого стоим.",
                "Напоминаю: ждём, что вы подтвердите {thing}, — иначе сорвём сроки.",
                "Сможете согласовать {thing} сегодня? Иначе дата релиза сдвинется.",
                "Снова про {thing}: подтверждаете как есть, пришлёте правки или созвонимся на 15 минут?",
            ],
            "close": [
                "Согласовано, можно начинать.",
                "С нашей стороны всё подтверждаем, спасибо за терпение.",
            ],
        },
    },
    "budget": {
        "en": {
            "open": [
                "Our marketing budget was cut by 30%. Can we reduce the scope to stay within {amount}?",
                "The estimate is more expensive than we expected. Is there any room for a discount?",
                "How much of the budget have we burned so far? Finance wants a status before Q3 planning.",
                "Could you break down the cost per feature so we can prioritise?",
            ],
            "follow": [
                "We'd rather drop the blog module than go over budget.",
                "Is a fixed price possible instead of time and materials?",
                "Thanks, this helps with the budget discussion internally.",
            ],
            "reply": [
                "So far we've used 68% of the budget with about 60% of the scope done. Details are in the attached report.",
                "We can keep the total at {amount} by moving the blog module and the integrations to a later phase.",
                "Here is the per-feature cost breakdown; the biggest items are checkout and the CRM sync.",
                "A fixed price works for a tightly defined scope; I'll send a proposal with a 10% risk buffer.",
            ],
            "close": [
                "Thanks, the reduced scope fits our budget.",
                "The breakdown is clear, we'll prioritise accordingly.",
                "OK, let's go with the fixed-price proposal.",
            ],
        },
        "ru": {
            "open": [
                "Бюджет на маркетинг урезали на 30%. Можно сократить объём работ, чтобы уложиться в {amount}?",
                "Смета получилась дороже, чем мы ожидали. Есть возможность дать скидку?",
                "Сколько бюджета мы уже израсходовали? Финансисты просят статус перед планированием третьего квартала.",
                "Можете расписать стоимость по каждой функции, чтобы мы расставили приоритеты?",
            ],
            "follow": [
                "Лучше уберём модуль блога, чем выйдем за рамки бюджета.",
                "А можно фиксированную цену вместо оплаты по часам?",
                "Спасибо, это поможет при обсуждении бюджета внутри компании.",
            ],
            "reply": [
                "На сегодня израсходовано 68% бюджета при готовности около 60% объёма. Подробности в отчёте.",
                "Чтобы уложиться в {amount}, перенесём модуль блога и интеграции в следующий этап.",
                "Вот разбивка стоимости по функциям; самые дорогие — оформление заказа и синхронизация с CRM.",
                "Фиксированная цена возможна при чётко описанном объёме; пришлю предложение с 10% на риски.",
            ],
            "close": [
                "Спасибо, сокращённый объём укладывается в бюджет.",
                "Разбивка понятная, расставим приоритеты.",
                "Хорошо, берём вариант с фиксированной ценой.",
            ],
        },
    },
    "praise": {
        "en": {
            "open": [
                "Just wanted to say the new site looks fantastic — our CEO loved it!",
                "Huge thanks to the team for the quick turnaround on the launch.",
                "Sales are up 18% since the new checkout went live. Great work!",
                "Our customers keep complimenting the new app design.",
            ],
            "follow": [
                "We'll definitely recommend you to our partners.",
                "Happy to give a testimonial for your website.",
            ],
            "reply": [
                "Thank you so much, I'll pass this on to the whole team!",
                "That's wonderful news about the sales — congratulations on the launch.",
                "We'd love a short testimonial, thank you for offering.",
            ],
            "close": [
                "Looking forward to the next project together.",
                "Thanks again, great collaboration.",
            ],
        },
        "ru": {
            "open": [
                "Хотим сказать, что новый сайт выглядит потрясающе — генеральному очень понравился!",
                "Огромное спасибо команде за быстрый запуск.",
                "С момента запуска нового оформления заказа продажи выросли на 18%. Отличная работа!",
                "Клиенты постоянно хвалят новый дизайн приложения.",
            ],
            "follow": [
                "Обязательно порекомендуем вас партнёрам.",
                "Готовы дать отзыв для вашего сайта.",
            ],
            "reply": [
                "Большое спасибо, обязательно передам всей команде!",
                "Отличные новости про продажи — поздравляем с запуском.",
                "Будем рады короткому отзыву, спасибо за предложение.",
            ],
            "close": [
                "Ждём следующего совместного проекта.",
                "Ещё раз спасибо, работать с вами — одно удовольствие.",
            ],
        },
    },
    "complaint": {
        "en": {
            "open": [
                "Honestly, we're disappointed. It took three days to get a reply to an urgent ticket.",
                "The quality of the last sprint was poor: half of the stories came back from QA.",
                "We keep finding the same bugs after every release. This isn't acceptable.",
                "Nobody from your side joined yesterday's status call. What's going on?",
            ],
            "follow": [
                "We expect a clear plan for how this won't happen again.",
                "If this continues we'll have to reconsider the contract.",
                "I appreciate the call, let's see how the next two weeks go.",
            ],
            "reply": [
                "I'm sorry — that response time is not our standard. From now on urgent tickets go to an on-call engineer within an hour.",
                "You're right about the sprint quality. We've added regression tests and a second code review.",
                "Apologies for missing the call; it was a calendar mix-up. Can we reschedule for tomorrow morning?",
                "I'd like to set up a weekly check-in with our delivery lead to rebuild trust.",
            ],
            "close": [
                "Thanks for taking it seriously.",
                "The last release was much cleaner, noted.",
            ],
        },
        "ru": {
            "open": [
                "Честно говоря, мы разочарованы: ответа на срочную заявку ждали три дня.",
                "Качество последнего спринта низкое — половина задач вернулась с тестирования.",
                "После каждого релиза всплывают одни и те же ошибки. Так не пойдёт.",
                "Вчера на статус-встречу от вас никто не пришёл. Что происходит?",
            ],
            "follow": [
                "Ждём понятного плана, как это не повторится.",
                "Если так продолжится, придётся пересмотреть договор.",
                "Спасибо за звонок, посмотрим, как пройдут следующие две недели.",
            ],
            "reply": [
                "Приношу извинения — такое время ответа не соответствует нашим стандартам. Теперь срочные заявки в течение часа берёт дежурный инженер.",
                "Вы правы насчёт качества спринта. Добавили регрессионные тесты и второе ревью кода.",
                "Извините, что пропустили встречу, — ошибка в календаре. Перенесём на завтра утром?",
                "Предлагаю еженедельную встречу с нашим руководителем проекта, чтобы вернуть доверие.",
            ],
            "close": [
                "Спасибо, что отнеслись серьёзно.",
                "Последний релиз заметно чище, отмечаем.",
            ],
        },
    },
}

NUDGES: dict[str, list[str]] = {
    "en": [
        "Hi {name}, just checking in — did you get a chance to look at {thing}?",
        "Gentle reminder about {thing}. We're waiting on your approval before the next step.",
        "Hi {name}, following up again on {thing}. Let us know if a quick call would help.",
        "Any update on {thing}? The team is on hold until we hear back.",
    ],
    "ru": [
        "{name}, добрый день! Удалось посмотреть {thing}?",
        "Мягко напоминаю про {thing}: ждём вашего подтверждения, чтобы двигаться дальше.",
        "{name}, снова возвращаюсь к теме: {thing}. Если удобнее, созвонимся на 15 минут.",
        "Есть новости про {thing}? Команда ждёт вашего ответа.",
    ],
}

PRIVATE_NOTES: dict[str, list[str]] = {
    "en": [
        "Internal: client sounds frustrated, loop in the PM before replying.",
        "Note for the team: this is the third time they ask about this — let's escalate.",
        "Internal: don't promise a date until QA signs off.",
        "Heads up, finance says this account is 45 days overdue.",
    ],
    "ru": [
        "Внутреннее: клиент раздражён, подключим РП перед ответом.",
        "Заметка для команды: спрашивают уже третий раз — эскалируем.",
        "Внутреннее: не обещаем дату, пока тестирование не подтвердит.",
        "Для сведения: по этому клиенту просрочка оплаты 45 дней.",
    ],
}

ACTIVITY: dict[str, list[str]] = {
    "en": ["Conversation was marked resolved by {agent}", "Assigned to {agent} by Automation System",
           "{agent} added label {label}", "Conversation was reopened by {name}"],
    "ru": ["Беседа отмечена как решённая пользователем {agent}", "Назначено на {agent} системой автоматизации",
           "{agent} добавил(а) метку {label}", "Беседа снова открыта пользователем {name}"],
}


def fill(template: str, rng: random.Random, lang: str, **ctx: Any) -> str:
    """Fill `{slot}`s: explicit context first, then a random pick from SLOTS[lang]."""

    class Slots(dict[str, Any]):
        def __missing__(self, key: str) -> Any:
            if key == "invoice":
                value: Any = f"INV-{rng.randint(2024_0001, 2024_0999)}"
            elif key == "amount":
                value = (f"${rng.randint(2, 48) * 500:,}" if lang == "en"
                         else f"{rng.randint(5, 90) * 10_000:,} ₽".replace(",", " "))
            elif key == "version":
                value = f"{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"
            else:
                value = rng.choice(SLOTS[lang][key]) if key in SLOTS[lang] else key
            self[key] = value
            return value

    return template.format_map(Slots(ctx))


def sample_message(rng: random.Random, *, incoming: bool) -> str:
    """One plausible message on a random topic and language (used by the synthetic generator)."""
    topic = TOPICS[rng.choice(sorted(TOPICS))]
    lang = rng.choice(("en", "ru"))
    role = rng.choice(("open", "follow")) if incoming else "reply"
    name = "Alex" if lang == "en" else "Алексей"
    return fill(rng.choice(topic[lang][role]), rng, lang, name=name, project="the project")


# Linear issues: (title, description) per topic and language.
ISSUES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "deployment_failure": {
        "en": [
            ("Deploy to {env} fails at migration step", "The release pipeline stops while running database migrations. A table lock times out after 60 s."),
            ("CI pipeline red after dependency upgrade", "The build fails since an upstream package was yanked. Pin versions and add a lockfile check."),
            ("Add smoke tests to the release pipeline", "A broken release reached production last week. Run checkout and login smoke tests before switching traffic."),
            ("Automate rollback for failed releases", "Rolling back is manual today and took 40 minutes during the last incident."),
        ],
        "ru": [
            ("Выкладка на {env} падает на миграции", "Пайплайн релиза останавливается на миграциях базы: блокировка таблицы не снимается за 60 секунд."),
            ("CI красный после обновления зависимостей", "Сборка падает с тех пор, как внешний пакет удалили из реестра. Зафиксировать версии."),
            ("Смоук-тесты перед переключением трафика", "Сломанный релиз попал в прод. Прогонять тесты входа и оформления заказа перед выкладкой."),
            ("Автоматический откат неудачного релиза", "Откат сейчас делается вручную и занял 40 минут во время последнего инцидента."),
        ],
    },
    "login_bug": {
        "en": [
            ("Users logged out after one minute", "Session cookie expires immediately after login since the last release. Check SameSite and max-age."),
            ("Password reset emails not delivered", "Reset emails land in spam or are dropped. Switch the sender domain and add SPF/DKIM."),
            ("Google SSO redirect loop", "After the domain change the OAuth callback URL points to the old host."),
            ("2FA codes rejected as expired", "Server clock drift makes valid TOTP codes fail. Allow one step of skew."),
        ],
        "ru": [
            ("Пользователей разлогинивает через минуту", "После последнего релиза cookie сессии истекает сразу после входа."),
            ("Не приходят письма для сброса пароля", "Письма попадают в спам. Сменить домен отправителя, настроить SPF и DKIM."),
            ("Циклический редирект при входе через Google", "После смены домена адрес возврата OAuth указывает на старый хост."),
            ("Коды 2FA отклоняются как просроченные", "Расхождение времени на сервере: разрешить сдвиг на один шаг TOTP."),
        ],
    },
    "performance": {
        "en": [
            ("Slow page load {page}", "Time to first byte is above 3 s in the evening peak. Profile the queries and add caching."),
            ("Add index on orders.customer_id", "Order history query does a full table scan; p95 latency is 4.2 s."),
            ("Compress and lazy-load product images", "Mobile PageSpeed dropped to 38 after the redesign because images are not compressed."),
            ("Cache catalogue filter results", "Search with filters hits the database on every keystroke."),
        ],
        "ru": [
            ("Медленная загрузка: {page}", "Время до первого байта больше 3 секунд в вечерний пик. Профилировать запросы, добавить кеш."),
            ("Индекс на orders.customer_id", "Запрос истории заказов делает полный просмотр таблицы, p95 — 4,2 секунды."),
            ("Сжатие и ленивая загрузка изображений", "После редизайна мобильный PageSpeed упал до 38 из-за несжатых картинок."),
            ("Кеширование фильтров каталога", "Поиск с фильтрами обращается к базе на каждое нажатие клавиши."),
        ],
    },
    "mobile_crash": {
        "en": [
            ("Crash when opening the cart on {platform}", "NullPointerException in CartViewModel when the cart is restored from the offline cache."),
            ("App freezes on splash screen", "Cold start hangs on {platform} while fetching remote config without a timeout."),
            ("Crash on photo upload", "The image picker crashes for HEIC photos larger than 10 MB."),
            ("Push notification tap crashes the app", "Deep link route for promo notifications is missing in the router."),
        ],
        "ru": [
            ("Падение при открытии корзины на {platform}", "NullPointerException в CartViewModel при восстановлении корзины из офлайн-кеша."),
            ("Приложение зависает на заставке", "Холодный старт на {platform} висит на загрузке удалённого конфига без таймаута."),
            ("Вылет при загрузке фото", "Выбор изображения падает на фотографиях HEIC больше 10 МБ."),
            ("Падение при нажатии на пуш", "В роутере нет маршрута диплинка для промо-уведомлений."),
        ],
    },
    "data_export": {
        "en": [
            ("Customer data export in {format}", "Audit needs a full export of customers with consent timestamps."),
            ("Export button produces an empty file", "Timezone filter excludes all rows when the user's timezone is ahead of UTC."),
            ("Scheduled monthly sales report export", "Upload the report to the client's shared drive on the 1st of each month."),
            ("GDPR data subject request tooling", "One-click export of everything stored about a customer."),
        ],
        "ru": [
            ("Выгрузка данных клиентов в {format}", "Для аудита нужна полная выгрузка клиентов с датами согласий."),
            ("Экспорт выгружает пустой файл", "Фильтр по часовому поясу отбрасывает все строки, если пояс пользователя впереди UTC."),
            ("Ежемесячная выгрузка отчёта по продажам", "Загружать отчёт в общую папку клиента первого числа каждого месяца."),
            ("Выгрузка по запросу субъекта персональных данных", "Экспорт в один клик всего, что хранится о клиенте."),
        ],
    },
    "design_revision": {
        "en": [
            ("Homepage hero redesign", "Replace stock photography with product screenshots; lighter header, bolder headlines."),
            ("Apply brand green to primary buttons", "Primary colour must follow the updated brand guidelines; check contrast."),
            ("Product card spacing on mobile", "Cards look cramped below 375 px; increase padding and font size."),
            ("Unify icon set across pages", "Three icon styles are mixed; switch to one outline set."),
        ],
        "ru": [
            ("Редизайн главного баннера", "Заменить стоковые фото скриншотами продукта; светлее шапка, жирнее заголовки."),
            ("Фирменный зелёный для основных кнопок", "Основной цвет должен соответствовать обновлённому брендбуку; проверить контраст."),
            ("Отступы карточки товара в мобильной версии", "На ширине меньше 375 px карточки выглядят тесно."),
            ("Единый набор иконок", "На страницах смешаны три стиля иконок; перейти на один контурный набор."),
        ],
    },
    "invoice": {
        "en": [
            ("Invoice PDF missing VAT number", "Billing module omits the customer's VAT number on generated invoices."),
            ("Duplicate invoices generated on retry", "The billing job is not idempotent; a retry creates a second invoice."),
            ("Split invoice by budget line", "Allow one invoice per budget line (design, development)."),
        ],
        "ru": [
            ("В PDF счёта нет ИНН клиента", "Модуль биллинга не выводит реквизиты клиента в сгенерированных счетах."),
            ("Дубли счетов при повторном запуске", "Задача выставления счетов не идемпотентна: повтор создаёт второй счёт."),
            ("Разделение счёта по статьям бюджета", "Выставлять отдельный счёт по каждой статье: дизайн, разработка."),
        ],
    },
    "scope_creep": {
        "en": [
            ("Change request: {feature}", "Requested by the client after scope freeze. Estimate and impact on the timeline pending."),
            ("Second language for the client portal", "Out of the original scope; needs translation workflow and locale switcher."),
            ("Referral programme landing page", "New page requested by marketing, not in the signed statement of work."),
        ],
        "ru": [
            ("Запрос на изменение: {feature}", "Клиент попросил после фиксации объёма работ. Нужна оценка и влияние на сроки."),
            ("Второй язык в личном кабинете", "Вне исходного скоупа: нужен процесс перевода и переключатель языков."),
            ("Лендинг реферальной программы", "Новая страница по запросу маркетинга, в договоре её нет."),
        ],
    },
    "deadline": {
        "en": [
            ("Release checklist for launch", "Final QA pass, store screenshots, analytics events and go-live plan."),
            ("Payment provider integration", "Sandbox was down for four days; integration is behind schedule."),
        ],
        "ru": [
            ("Чек-лист релиза к запуску", "Финальное тестирование, скриншоты для сторов, события аналитики и план запуска."),
            ("Интеграция с платёжным провайдером", "Песочница провайдера не работала четыре дня, интеграция отстаёт от графика."),
        ],
    },
}

# Attio notes: (title, content) per language.
NOTES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("Quarterly business review", "Reviewed delivery for {company}. They are happy with the new checkout but worried about response times. Agreed to a weekly status call."),
        ("Renewal call", "{company} wants to renew the support retainer for 12 months and add 20 hours per month. Send the proposal {deadline}."),
        ("Budget discussion", "Marketing budget was cut by 30%. Proposed moving the blog module to phase two to stay within {amount}."),
        ("Upsell opportunity", "They asked about {feature}; good candidate for an add-on package next quarter."),
        ("Payment follow-up", "Invoice {invoice} is 30 days overdue. CFO promised payment {deadline}."),
        ("Kick-off meeting", "Kick-off with {company}: goals, stakeholders, communication channels and the approval process agreed."),
    ],
    "ru": [
        ("Квартальная встреча", "Обсудили результаты работы с {company}. Довольны новым оформлением заказа, но недовольны скоростью ответов. Договорились о еженедельном созвоне."),
        ("Звонок по продлению", "{company} хочет продлить договор поддержки на 12 месяцев и добавить 20 часов в месяц. Отправить предложение {deadline}."),
        ("Обсуждение бюджета", "Бюджет на маркетинг сократили на 30%. Предложили перенести модуль блога во второй этап, чтобы уложиться в {amount}."),
        ("Возможность допродажи", "Спрашивали про {feature}; хороший кандидат на дополнительный пакет в следующем квартале."),
        ("Контроль оплаты", "Счёт {invoice} просрочен на 30 дней. Финансовый директор обещал оплатить {deadline}."),
        ("Стартовая встреча", "Старт проекта с {company}: цели, участники, каналы связи и порядок согласования утверждены."),
    ],
}

GREETINGS: dict[str, list[str]] = {
    "en": ["", "", "Hi {agent_first},", "Hello team,", "Good morning!", "Hey,"],
    "ru": ["", "", "Добрый день!", "Здравствуйте, {agent_first}!", "Коллеги, привет!", "Доброе утро!"],
}
SIGN_OFFS: dict[str, list[str]] = {
    "en": ["", "", "Thanks, {first}", "Best regards, {first}", "Cheers"],
    "ru": ["", "", "Спасибо!", "С уважением, {first}", "Заранее спасибо"],
}
